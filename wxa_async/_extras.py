"""Optional extras: which one a feature needs, and the error that names it."""

from __future__ import annotations

import importlib.util
from typing import Any, NoReturn

from .errors import WxaMissingExtraError

__all__ = ["EXTRA_MODULES", "missing_extra_class", "missing_extras", "require_extra"]

#: extra -> the top-level modules it installs (checked without importing them).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "aiohttp": ("aiohttp",),
    "redis": ("redis",),
    "crypto": ("cryptography",),
    "emulator": ("uvicorn",),
    "cli": ("typer",),
    "otel": ("opentelemetry",),
    "rollout": ("sqlalchemy", "aiosqlite"),
}


def missing_extras(*extras: str) -> list[str]:
    """The extras among ``extras`` whose modules are not installed."""
    return [
        extra for extra in extras
        if any(importlib.util.find_spec(module) is None for module in EXTRA_MODULES[extra])
    ]


def require_extra(what: str, *extras: str) -> None:
    """Raise :class:`WxaMissingExtraError` naming every extra ``what`` needs and lacks."""
    missing = missing_extras(*extras)
    if missing:
        raise WxaMissingExtraError(what, *missing)


def missing_extra_class(name: str, extra: str) -> type[Any]:
    """A stand-in for class ``name`` whose extra is missing: importing it works (so
    ``from wxa_async import *`` needs no extra), constructing it raises the error
    that names the extra."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise WxaMissingExtraError(name, extra)

    return type(name, (), {"__init__": __init__, "__doc__": f"Needs the {extra!r} extra."})
