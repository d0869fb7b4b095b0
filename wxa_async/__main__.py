"""``python -m wxa_async``: the ``wxa-async`` command line."""

import sys

from .cli import main

sys.exit(main())
