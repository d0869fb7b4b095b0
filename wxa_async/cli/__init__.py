"""The ``wxa-async`` command line (also ``python -m wxa_async``), built on Typer.

:func:`main` is the entry point; it needs the ``cli`` extra and says so when it is
missing. :func:`endpoint_table` (the docs' Markdown table) works on a bare install.
"""

from ._entry import ExitCode, main
from ._table import endpoint_rows, endpoint_table

__all__ = ["ExitCode", "endpoint_rows", "endpoint_table", "main"]
