"""A read-only web dashboard over a rollout store (the ``dashboard`` extra).

``wxa-async rollout serve --store URL`` serves it; :func:`create_app` builds the ASGI
app to serve or mount in your own. See the dashboard guide (``docs/dashboard.md``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._auth import authorized, is_loopback, needs_token

if TYPE_CHECKING:
    from ._app import Dashboard, create_app
    from ._serve import describe, serve

__all__ = [
    "Dashboard",
    "authorized",
    "create_app",
    "describe",
    "is_loopback",
    "needs_token",
    "serve",
]

_LAZY = {"Dashboard": "._app", "create_app": "._app", "describe": "._serve", "serve": "._serve"}


def __getattr__(name: str) -> Any:
    # The web stack (Starlette, Jinja2, uvicorn) is imported on first use: the rollout
    # CLI, which registers the serve command, works without the dashboard extra.
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(_LAZY[name], __name__)
    except ImportError as exc:
        raise ImportError(f"the dashboard needs the 'dashboard' extra ({exc.name} is not "
                          "installed): pip install 'wxa_async[dashboard]'") from exc
    return getattr(module, name)
