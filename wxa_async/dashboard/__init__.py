"""A read-only web dashboard over a rollout store (the ``dashboard`` extra).

``wxa-async rollout serve --store URL`` serves it; :func:`create_app` builds the ASGI
app to serve or mount in your own. See the dashboard guide (``docs/dashboard.md``).
"""

from ._app import Dashboard, create_app
from ._auth import authorized, is_loopback, needs_token
from ._serve import serve

__all__ = ["Dashboard", "authorized", "create_app", "is_loopback", "needs_token", "serve"]
