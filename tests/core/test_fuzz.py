"""Property tests (hypothesis): whatever the caller passes, whatever the service answers,
whatever XML is pushed, the SDK answers with a result or a WxaError, never another
exception.

Request fields and response shapes are derived from the endpoint table (ENDPOINTS),
so a new endpoint is fuzzed without touching this file. tests/test_events.py fuzzes
``parse_event`` with arbitrary text; here it gets near-valid pushes of every kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import typing
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.core import APPID, JPEG, FakeService, make_client
from wxa_async import ENDPOINTS, WxaError, WxaValidationError
from wxa_async.models import AuditItem, WxaResponse
from wxa_async.push import parse_event
from wxa_async.testing import BytesResponse

SETTINGS = settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- values ---------------------------------------------------------------------------

# Lone surrogates are valid Python strings that no UTF-8 encoder accepts.
_odd_text = st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "é" * 70, "x " * 30])
text = st.one_of(st.text(max_size=40), _odd_text)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(text, inner, max_size=6)
    ),
    max_leaves=20,
)
# Not JSON at all: what a caller may pass by mistake.
wrong_types = st.one_of(
    st.binary(max_size=10), st.tuples(scalars, scalars), st.frozensets(st.integers()),
    st.just(object()), st.sets(st.integers(), max_size=3),
)
anything = st.one_of(json_values, wrong_types)

_item_fields = [field.name for field in attrs.fields(AuditItem)]
near_items = st.lists(
    st.dictionaries(st.sampled_from(_item_fields), st.one_of(text, st.integers(), anything),
                    max_size=len(_item_fields)),
    max_size=7,
)
# Values of the right kind for each wire name, so the validators' limits are probed too.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "template_id": st.integers(min_value=-2, max_value=2**40),
    "ext_json": st.one_of(text, st.dictionaries(text, json_values, max_size=4)),
    "item_list": st.one_of(near_items, st.lists(st.builds(AuditItem), max_size=6)),
    "auditid": st.integers(min_value=-2, max_value=2**63),
    "action": st.sampled_from(["open", "close", "Open", "", "closed"]),
    "gray_percentage": st.integers(min_value=-1, max_value=102),
    "permit_sub_rule": st.integers(min_value=0, max_value=3),
    "open_version": st.integers(min_value=0, max_value=4),
    "is_edit": st.integers(min_value=-1, max_value=2),
    "debug_url": st.lists(st.one_of(text, anything), max_size=7),
}


def field_values(name: str) -> st.SearchStrategy[Any]:
    return st.one_of(PLAUSIBLE.get(name, text), anything)


def request_kwargs(endpoint: Any) -> st.SearchStrategy[dict[str, Any]]:
    fields = [f for f in attrs.fields(endpoint.request) if f.init]
    required = {f.name: field_values(f.name) for f in fields if f.default is attrs.NOTHING}
    optional = {f.name: field_values(f.name) for f in fields if f.default is not attrs.NOTHING}
    return st.fixed_dictionaries(required, optional=optional)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- request building -----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@SETTINGS
@given(data=st.data())
def test_any_arguments_validate_or_raise_validation_error(endpoint: Any, data: Any) -> None:
    kwargs = data.draw(request_kwargs(endpoint), label="kwargs")
    service = FakeService()
    service.routes[endpoint.path] = JPEG if endpoint.binary else {"errcode": 0, "errmsg": "ok"}

    async def attempt() -> None:
        async with make_client(service) as client:
            await getattr(client.app(APPID), endpoint.name)(**kwargs)

    try:
        run(attempt())
    except WxaValidationError:
        assert service.requests == []  # refused before anything was sent
        return
    (request,) = service.requests
    if isinstance(request.content, bytes):  # what was sent is UTF-8 JSON, an object
        assert isinstance(json.loads(request.content.decode("utf-8")), dict)
    for value in request.params.values():
        value.encode("utf-8")


def test_absurdly_nested_ext_json_is_a_validation_error() -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(sys.getrecursionlimit() + 10):
        inner["a"] = {}
        inner = inner["a"]
    service = FakeService()

    async def attempt() -> None:
        async with make_client(service) as client:
            await client.app(APPID).commit(
                template_id=1, ext_json=nested, user_version="v", user_desc="d"
            )

    with pytest.raises(WxaValidationError, match="ext_json"):
        run(attempt())
    assert service.requests == []


# -- response parsing -----------------------------------------------------------------

errcodes = st.one_of(
    st.sampled_from([0, "0", -1, 40001, 45009, 85009, "85009", "-1", " 7", "x", 1.5, True]),
    scalars,
)


def near_valid(cls: type) -> st.SearchStrategy[Any]:
    """A JSON object with some of ``cls``'s fields, each of about the right shape or
    of any shape; nested models recursively."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in attrs.fields(cls):
        if field.name == "raw":
            continue
        hint = hints[field.name]
        inner = [a for a in typing.get_args(hint) if attrs.has(a)]
        model = hint if attrs.has(hint) else (inner[0] if inner else None)
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is list else None
        if model is not None:
            shaped = near_valid(model)
        elif item is not None and attrs.has(item):
            shaped = st.lists(near_valid(item), max_size=3)
        else:
            shaped = json_values
        fields[field.name] = st.one_of(shaped, json_values)
    return st.fixed_dictionaries({}, optional=fields)


def response_payloads(cls: type) -> st.SearchStrategy[Any]:
    shaped = st.builds(
        lambda body, code, with_code: {**body, "errcode": code} if with_code else body,
        near_valid(cls), errcodes, st.booleans(),
    )
    return st.one_of(shaped, json_values)


def body_of(payload: Any) -> bytes:
    # ASCII escapes: lone surrogates travel as \ud800, as a hostile server could send.
    return json.dumps(payload).encode()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@SETTINGS
@given(data=st.data())
def test_any_json_answer_parses_or_raises_a_wxa_error(endpoint: Any, data: Any) -> None:
    model = WxaResponse if endpoint.binary else endpoint.response
    payload = data.draw(response_payloads(model), label="payload")
    content_type = data.draw(st.sampled_from(["application/json", "text/plain", ""]))
    answer = BytesResponse(200, {"Content-Type": content_type} if content_type else {},
                           body_of(payload))
    service = FakeService().reply(answer)
    kwargs = data.draw(st.just(VALID[endpoint.name]))

    async def attempt() -> Any:
        async with make_client(service, max_retries=0) as client:
            return await getattr(client.app(APPID), endpoint.name)(**kwargs)

    try:
        result = run(attempt())
    except WxaError:
        return
    assert isinstance(result, bytes if endpoint.binary else endpoint.response)


@pytest.mark.parametrize("name", ["get_page", "get_version_info", "get_qrcode"])
@SETTINGS
@given(body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_answer_parses_or_raises_a_wxa_error(name: str, body: bytes) -> None:
    service = FakeService().reply(BytesResponse(200, {"Content-Type": "application/json"}, body))

    async def attempt() -> Any:
        async with make_client(service, max_retries=0) as client:
            return await getattr(client.app(APPID), name)(**VALID[name])

    with contextlib.suppress(WxaError):
        run(attempt())


@pytest.mark.parametrize("depth", [50, 500, 900, 990, 5000])
def test_deeply_nested_answers_are_decode_errors(depth: int) -> None:
    body = b'{"errcode": 0, "page_list": ' + b"[" * depth + b"]" * depth + b"}"
    service = FakeService().reply(BytesResponse(200, {"Content-Type": "application/json"}, body))

    async def attempt() -> Any:
        async with make_client(service, max_retries=0) as client:
            return await client.app(APPID).get_page()

    with pytest.raises(WxaError):
        run(attempt())


# -- push XML -------------------------------------------------------------------------

EVENTS: list[dict[str, str]] = [
    {"ToUserName": "gh_x", "FromUserName": "o_x", "CreateTime": "1488856741",
     "MsgType": "event", "Event": "weapp_audit_success", "SuccTime": "1488856741"},
    {"ToUserName": "gh_x", "FromUserName": "o_x", "CreateTime": "1488856741",
     "MsgType": "event", "Event": "weapp_audit_fail", "Reason": "1:x<br>",
     "FailTime": "1488856741", "ScreenShot": "a|b"},
    {"ToUserName": "gh_x", "FromUserName": "o_x", "CreateTime": "1488856741",
     "MsgType": "event", "Event": "weapp_audit_delay", "Reason": "later",
     "DelayTime": "1488856741"},
    {"AppId": "wxc", "CreateTime": "1413192605", "InfoType": "component_verify_ticket",
     "ComponentVerifyTicket": "ticket@@@x"},
    {"AppId": "wxc", "CreateTime": "1413192760", "InfoType": "authorized",
     "AuthorizerAppid": "wxa", "AuthorizationCode": "code@@@x",
     "AuthorizationCodeExpiredTime": "1413196360", "PreAuthCode": "pre@@@x"},
    {"AppId": "wxc", "CreateTime": "1413192760", "InfoType": "updateauthorized",
     "AuthorizerAppid": "wxa", "AuthorizationCode": "code@@@x",
     "AuthorizationCodeExpiredTime": "1413196360"},
    {"AppId": "wxc", "CreateTime": "1413192760", "InfoType": "unauthorized",
     "AuthorizerAppid": "wxa"},
]

xml_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " 12 ", "-1", "١٢", "1e3", "<", "&amp;", "&bogus;", "]]>",
                     "\x00", "\ud800", "99999999999999999999999"]),
)


@st.composite
def near_valid_pushes(draw: Any) -> str | bytes:
    fields = dict(draw(st.sampled_from(EVENTS)))
    for tag in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)):
        fields.pop(tag, None)  # a required field missing
    for tag in draw(st.lists(st.sampled_from(sorted(fields) or ["X"]), max_size=3)):
        fields[tag] = draw(xml_text)  # a value of the wrong kind
    parts = []
    for tag, value in fields.items():
        style = draw(st.sampled_from(["plain", "cdata", "nested", "empty", "attr", "twice"]))
        if style == "cdata":
            parts.append(f"<{tag}><![CDATA[{value}]]></{tag}>")
        elif style == "nested":
            parts.append(f"<{tag}><{tag}>{value}</{tag}></{tag}>")
        elif style == "empty":
            parts.append(f"<{tag}/>")
        elif style == "attr":
            parts.append(f'<{tag} a="{value}">{value}</{tag}>')
        elif style == "twice":
            parts.append(f"<{tag}>{value}</{tag}><{tag}>{value}</{tag}>")
        else:
            parts.append(f"<{tag}>{value}</{tag}>")
    draw(st.randoms()).shuffle(parts)
    root = draw(st.sampled_from(["xml", "xml", "XML", "root"]))
    prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>', "<!-- c -->"]))
    xml = f"{prolog}<{root}>{''.join(parts)}</{root}>"
    if draw(st.booleans()):
        try:
            return xml.encode("utf-8")
        except UnicodeEncodeError:
            return xml.encode("utf-8", "surrogatepass")
    return xml


@settings(max_examples=300, deadline=None)
@given(xml=near_valid_pushes())
def test_near_valid_pushes_parse_or_raise_a_wxa_error(xml: str | bytes) -> None:
    try:
        event = parse_event(xml)
    except WxaError:
        return
    assert type(event).__name__.endswith("Event")


# Seed-valid arguments per endpoint (the shape does not matter to the answer fuzzing).
VALID: dict[str, dict[str, Any]] = {
    "commit": {"template_id": 1, "ext_json": "{}", "user_version": "v", "user_desc": "d"},
    "submit_audit": {"item_list": [{"address": "index"}]},
    "get_audit_status": {"auditid": 1},
    "change_visit_status": {"action": "open"},
    "set_support_version": {"version": "1.0.0"},
    "add_qrcode_jump": {"prefix": "https://x", "permit_sub_rule": 1, "path": "p",
                        "open_version": 1},
    "delete_qrcode_jump": {"prefix": "https://x"},
    "publish_qrcode_jump": {"prefix": "https://x"},
    "gray_release": {"gray_percentage": 1},
    "speedup_audit": {"auditid": 1},
    "set_privacy_setting": {"owner_setting": {"contact_qq": "1", "notice_method": "弹窗"}},
    "apply_privacy_interface": {"api_name": "wx.getLocation", "content": "c"},
    "upload_media": {"media": b"png", "filename": "a.png"},
    "upload_privacy_ext_file": {"file": b"text", "filename": "a.txt"},
}
for _endpoint in ENDPOINTS:
    VALID.setdefault(_endpoint.name, {})
