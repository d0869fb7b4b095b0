"""What the CLI and the docs show of the endpoint tables: rows, the Markdown table, field types.

Nothing here needs the ``cli`` extra: the docs and their tests import it on a bare install.
"""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

from .._handle import COMPONENT_ENDPOINTS, ENDPOINTS
from ..endpoints import EndpointSpec

__all__ = ["endpoint_rows", "endpoint_table", "find_endpoint", "request_fields"]


def request_fields(endpoint: EndpointSpec) -> dict[str, tuple[Any, Any]]:
    """``name -> (type, default)`` of the endpoint's request fields, in signature order;
    the default is :data:`inspect.Parameter.empty` for a required field."""
    request = endpoint.request
    hints = get_type_hints(request) if isinstance(request, type) else {}
    return {
        name: (hints.get(name, Any), param.default)
        for name, param in inspect.signature(request).parameters.items()
    }


def _signature(endpoint: EndpointSpec) -> str:
    shown: list[str] = []
    for name, param in inspect.signature(endpoint.request).parameters.items():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in shown:
            shown.append("*")  # what follows is keyword-only
        default = param.default
        shown.append(name if default is inspect.Parameter.empty else f"{name}={default!r}")
    return ", ".join(shown)


def endpoint_table() -> str:
    """The Markdown endpoint table of the docs, derived from the endpoint tables."""
    lines = [
        "| method | wire | answer | retried on transient errors |",
        "|---|---|---|---|",
    ]
    # client.app(appid)'s lines as they are; client.component()'s (the platform's own,
    # with the component token) named with their handle.
    rows = [("", e) for e in ENDPOINTS] + [("component().", e) for e in COMPONENT_ENDPOINTS]
    for handle, endpoint in rows:
        answer = "bytes / file" if endpoint.binary else f"`{endpoint.response.__name__}`"
        lines.append(
            f"| `{handle}{endpoint.name}({_signature(endpoint)})` | {endpoint.method} "
            f"`{endpoint.path}` | {answer} "
            f"| {'yes' if endpoint.idempotent else 'no (mutation)'} |"
        )
    return "\n".join(lines)


def endpoint_rows() -> list[dict[str, Any]]:
    """The endpoint tables as plain data (``wxa-async endpoints --json``)."""
    return [
        {
            "name": endpoint.name,
            "method": endpoint.method,
            "path": endpoint.path,
            "answer": "binary" if endpoint.binary else endpoint.response.__name__,
            "idempotent": endpoint.idempotent,
            "fields": {
                name: {
                    "type": _type_name(hint),
                    "required": default is inspect.Parameter.empty,
                    **({} if default is inspect.Parameter.empty else {"default": default}),
                }
                for name, (hint, default) in request_fields(endpoint).items()
            },
        }
        for endpoint in ENDPOINTS
    ]


def find_endpoint(name: str) -> EndpointSpec | None:
    """The table line called ``name`` (``"get_page"``), or None."""
    return next((e for e in ENDPOINTS if e.name == name), None)


def _type_name(hint: Any) -> str:
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    return text.replace("typing.", "").replace("wxa_async.models._code.", "")
