"""``python -m wxa_async.testing.emulator``: serve the emulator over HTTP."""

import sys

from ._cli import main

sys.exit(main())
