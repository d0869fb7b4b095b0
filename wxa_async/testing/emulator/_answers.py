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

# The errcode the service answers when a field breaks its rule (seed sections 1-16);
# any other field problem answers 47001 (malformed data).
_FIELD_ERRCODES: dict[str, dict[str, int]] = {
    "commit": {"template_id": 85014, "ext_json": 85048},
    "submit_audit": {
        "item_list": 85023, "address": 85007, "tag": 85006, "title": 85011,
        "first_class": 85008, "second_class": 85008, "third_class": 85008,
        "first_id": 85008, "second_id": 85008, "third_id": 85008,
    },
    "get_audit_status": {"auditid": 85012},
    "speedup_audit": {"auditid": 85012},
    "change_visit_status": {"action": 85022},
    "set_support_version": {"version": 85015},
    "add_qrcode_jump": {"prefix": 85066, "debug_url": 85068, "path": 85066},
    "delete_qrcode_jump": {"prefix": 85066},
    "publish_qrcode_jump": {"prefix": 85066},
    "gray_release": {"gray_percentage": 85081},
}


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
    return get_type_hints(cls), frozenset(field.name for field in attrs.fields(cls))


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
        hint = hints[name]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and _accepts_int(hint):
            value = int(value)
        elif get_origin(hint) is tuple and isinstance(value, list):
            inner = get_args(hint)[0]
            if attrs.has(inner):
                value = [_coerce(inner, v) if isinstance(v, Mapping) else v for v in value]
        out[name] = value
    return out


def _field_of(exc: WxaValidationError) -> str:
    return str(exc).split(":", 1)[0].split("[", 1)[0].strip()


def _parse_request(endpoint: EndpointSpec, data: Mapping[str, Any]) -> WxaRequest:
    cls = endpoint.request
    assert isinstance(cls, type)
    codes = _FIELD_ERRCODES.get(endpoint.name, {})
    kwargs = _coerce(cls, data)
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING and field.name not in kwargs:
            raise _Reply(codes.get(field.name, 47001), f"{field.name} missing")
    try:
        request = cls(**kwargs)
    except WxaValidationError as exc:
        field = _field_of(exc)
        if field == "item_list" and "[" in str(exc).split(":", 1)[0]:
            raise _Reply(85010, str(exc)) from None  # an item that is not an item
        raise _Reply(codes.get(field, 47001), str(exc)) from None
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


def _request_data(
    endpoint: EndpointSpec, method: str, query: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    # The SDK puts a GET's fields in the query and a POST's in a JSON body; accept both.
    data = {k: v for k, v in query.items() if k != "access_token"}
    if method == "POST" or body:
        data.update(_json_object(body))
    return data
