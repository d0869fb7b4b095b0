"""The ``wxa-async`` command line (also ``python -m wxa_async``)."""

from ._main import endpoint_table, main

__all__ = ["endpoint_table", "main"]
