"""The version, read by the build backend (hatch) and shown by ``wxa-async --version``."""

__version__ = "0.2.0"
