"""What the emulator answers, and how it reads a request into its request class."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import attrs

from ..._converter import converter, dumps
from ...endpoints import EndpointSpec
from ...errors import ERRCODE_DESCRIPTIONS, WxaValidationError
from ...models import (
    WxaRequest,
    WxaResponse,
)
from ._faults import FaultKind
from ._state import _HTML, _JSON

# -- answers --------------------------------------------------------------------------


@attrs.frozen
class Answer:
    """One HTTP answer of the emulator; ``drop`` means: close without the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    drop: bool = False

    @classmethod
    def json(cls, payload: Mapping[str, Any], status: int = 200) -> Answer:
        return cls(status, _JSON, dumps(payload))


class _Reply(Exception):
    """Raised by handlers to answer an errcode; nothing has been changed."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or _errmsg(errcode)


def _errmsg(errcode: int) -> str:
    # The English gloss of the shared description table, e.g. "invalid template id".
    text = ERRCODE_DESCRIPTIONS.get(errcode, "")
    match = re.search(r"\(([^()]*)\)\s*$", text)
    return match.group(1) if match else "error"


def _error(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg or _errmsg(errcode)}


def _fault_answer(kind: FaultKind) -> Answer:
    if kind == "busy":
        return Answer.json({"errcode": -1, "errmsg": "system error"})
    if kind == "http_502":
        return Answer(502, _HTML, b"<html><body>502 Bad Gateway</body></html>")
    if kind == "not_json":
        return Answer(200, _HTML, b"<html><body>upstream error</body></html>")
    return Answer(200, _JSON, dumps(_error(-1, "system error")), drop=True)  # "drop"


def _strip(value: Any) -> Any:
    # Answers leave out absent fields (None) the way the service does.
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None and k != "raw"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _payload(response: WxaResponse) -> dict[str, Any]:
    unstructured: dict[str, Any] = converter.unstructure(response)
    return dict(_strip(unstructured))


# -- request parsing ------------------------------------------------------------------

def _accepts_int(hint: Any) -> bool:
    if hint is int:
        return True
    if get_origin(hint) is Literal:
        return any(isinstance(arg, int) for arg in get_args(hint))
    return any(_accepts_int(arg) for arg in get_args(hint)) if get_origin(hint) in (
        Union, type(int | None)
    ) else False


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    # get_type_hints evaluates every annotation: a third of a request's cost uncached.
    # Fields set by the class itself (init=False) are not the caller's to give.
    return get_type_hints(cls), frozenset(f.name for f in attrs.fields(cls) if f.init)


def _without_none(hint: Any) -> Any:
    # `X | None` -> X, so an optional list of items is coerced like a list of items.
    if get_origin(hint) in (Union, type(int | None)):
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _coerce(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` limited to ``cls``'s fields, digit strings made ints where the field
    takes ints (the SDK itself sends ``"permit_sub_rule": "1"``), nested items too."""
    if not data:
        return {}
    hints, names = _fields(cls)
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name not in names:
            continue  # the service ignores fields it does not know
        hint = _without_none(hints[name])
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and _accepts_int(hint):
            value = int(value)
        elif get_origin(hint) is tuple and isinstance(value, list):
            inner = get_args(hint)[0]
            if attrs.has(inner):
                value = [_coerce(inner, v) if isinstance(v, Mapping) else v for v in value]
        out[name] = value
    return out


def _errcode_of(cls: type, exc: WxaValidationError) -> int:
    """The errcode the service answers for ``exc``: its own, else the metadata of the
    field at fault, else 47001 (malformed data)."""
    if exc.errcode is not None:
        return exc.errcode
    fields = attrs.fields_dict(cls)
    field = fields.get(exc.field) if exc.field else None
    return int(field.metadata.get("errcode", 47001)) if field is not None else 47001


def _parse_request(endpoint: EndpointSpec, data: Mapping[str, Any]) -> WxaRequest:
    cls = endpoint.request
    assert isinstance(cls, type)
    kwargs = _coerce(cls, data)
    for field in attrs.fields(cls):
        if field.init and field.default is attrs.NOTHING and field.name not in kwargs:
            raise _Reply(field.metadata.get("errcode", 47001), f"{field.name} missing")
    try:
        request = cls(**kwargs)
    except WxaValidationError as exc:
        raise _Reply(_errcode_of(cls, exc), str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise _Reply(47001, type(exc).__name__) from None
    assert isinstance(request, WxaRequest)
    return request




def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Reply(47001, "data format error") from None
    if not isinstance(data, dict):
        raise _Reply(47001, "data format error")
    return data


_DISPOSITION = re.compile(r'\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def _boundary(content_type: str) -> bytes:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise _Reply(41005, "media data missing: expected multipart/form-data")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _DISPOSITION.finditer(rest)}
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 70:
        raise _Reply(47001, "multipart boundary missing or too long")
    return boundary.encode("latin-1")


def form_parts(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a ``multipart/form-data`` body as (Content-Disposition parameters
    plus a ``content-type`` key, content): parsed strictly, as RFC 7578 says."""
    delimiter = b"--" + _boundary(content_type)
    if not body.startswith(delimiter):
        raise _Reply(47001, "multipart body does not start with its boundary")
    parts: list[tuple[dict[str, str], bytes]] = []
    rest = body[len(delimiter):]
    while True:
        if rest.startswith(b"--"):  # the close delimiter
            return parts
        if not rest.startswith(b"\r\n"):
            raise _Reply(47001, "malformed multipart delimiter")
        head, sep, rest = rest[2:].partition(b"\r\n\r\n")
        end = rest.find(b"\r\n" + delimiter)
        if not sep or end < 0:
            raise _Reply(47001, "multipart part is not terminated")
        content, rest = rest[:end], rest[end + 2 + len(delimiter):]
        fields: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise _Reply(47001, "malformed multipart part header")
            if name.strip().lower() == "content-disposition":
                kind, _, params = value.partition(";")
                if kind.strip().lower() != "form-data":
                    raise _Reply(47001, "a part that is not form-data")
                for m in _DISPOSITION.finditer(params):
                    raw = m.group(2) if m.group(2) is not None else m.group(3)
                    fields[m.group(1).lower()] = raw.replace("%22", '"')
            elif name.strip().lower() == "content-type":
                fields["content-type"] = value.strip()
        if "name" not in fields:
            raise _Reply(47001, "a multipart part without a name")
        parts.append((fields, content))


def _request_data(
    endpoint: EndpointSpec, method: str, query: Mapping[str, str], body: bytes,
    headers: Mapping[str, str],
) -> dict[str, Any]:
    # The SDK puts a GET's fields in the query and a POST's in a JSON body; accept both.
    data: dict[str, Any] = {k: v for k, v in query.items() if k != "access_token"}
    field = getattr(endpoint, "field", None)
    if field is not None:  # an upload: the file is one part of a multipart form
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        for params, content in form_parts(body, content_type):
            if params["name"] == field:
                data[field] = content
                data["filename"] = params.get("filename") or None
                return data
        raise _Reply(41005, f"media data missing: no form field {field!r}")
    if method == "POST" or body:
        data.update(_json_object(body))
    return data
