"""parse_event on WeChat's samples, the component callbacks, unknown and hostile input."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wxa_async import (
    WxaBodyTooLargeError,
    WxaError,
    WxaSignatureError,
    WxaValidationError,
    WxaXmlError,
)
from wxa_async.push import (
    AuditDelayEvent,
    AuditFailEvent,
    AuditSuccessEvent,
    AuthorizedEvent,
    ComponentVerifyTicketEvent,
    Event,
    GenericEvent,
    UnauthorizedEvent,
    UpdateAuthorizedEvent,
    parse_event,
    parse_xml,
    to_xml,
)
from wxa_async.testing import render_event_xml

# WeChat's 获取审核结果 samples, verbatim.
SEED_SUCCESS = """<xml>
  <ToUserName><![CDATA[gh_fb9688c2a4b2]]></ToUserName>
  <FromUserName><![CDATA[od1P50M-fNQI5Gcq-trm4a7apsU8]]></FromUserName>
  <CreateTime>1488856741</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[weapp_audit_success]]></Event>
  <SuccTime>1488856741</SuccTime>
</xml>"""

SEED_FAIL_REASON = (
    "1:账号信息不符合规范:<br>(1):包含色情因素<br>2:服务类目\"金融业-保险_\"与你提交代码审核时"
    "设置的功能页面内容不一致:<br>(1):功能页面设置的部分标签不属于所选的服务类目范围。<br>"
    "(2):功能页面设置的部分标签与该页面内容不相关。<br>"
)
SEED_FAIL = f"""<xml>
  <ToUserName><![CDATA[gh_fb9688c2a4b2]]></ToUserName>
  <FromUserName><![CDATA[od1P50M-fNQI5Gcq-trm4a7apsU8]]></FromUserName>
  <CreateTime>1488856591</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[weapp_audit_fail]]></Event>
  <Reason><![CDATA[{SEED_FAIL_REASON}]]></Reason>
  <FailTime>1488856591</FailTime>
</xml>"""

EVENT_CLASSES = get_args(Event)

TICKET = "ticket@@@SECRET-TICKET-Lsdh"
AUTH_CODE = "queryauthcode@@@SECRET-CODE"
PRE_AUTH = "preauthcode@@@SECRET-PRE"


def test_seed_success_sample() -> None:
    assert parse_event(SEED_SUCCESS) == AuditSuccessEvent(
        to_user_name="gh_fb9688c2a4b2",
        from_user_name="od1P50M-fNQI5Gcq-trm4a7apsU8",
        create_time=1488856741,
        succ_time=1488856741,
    )


def test_seed_fail_sample() -> None:
    event = parse_event(SEED_FAIL.encode("utf-8"))
    assert event == AuditFailEvent(
        to_user_name="gh_fb9688c2a4b2",
        from_user_name="od1P50M-fNQI5Gcq-trm4a7apsU8",
        create_time=1488856591,
        reason=SEED_FAIL_REASON,
        fail_time=1488856591,
        screen_shot=(),
    )


def test_seed_samples_are_the_exact_text_of_the_seed() -> None:
    # Guards the literals above against drift: they are WeChat's code blocks, dedented.
    # ../shared beside the checkout, as on developer machines and in CI.
    seed_file = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "wxa-code-management.rst"
    if not seed_file.exists():
        pytest.skip("WeChat's code-management document is not part of this checkout")
    seed = seed_file.read_text(encoding="utf-8")
    for sample in (SEED_SUCCESS, SEED_FAIL):
        assert "\n".join("   " + line for line in sample.splitlines()) in seed


def test_render_event_xml_reproduces_the_seed_shape() -> None:
    rendered = render_event_xml(
        {
            "ToUserName": "gh_fb9688c2a4b2",
            "FromUserName": "od1P50M-fNQI5Gcq-trm4a7apsU8",
            "CreateTime": 1488856591,
            "MsgType": "event",
            "Event": "weapp_audit_fail",
            "Reason": SEED_FAIL_REASON,
            "FailTime": 1488856591,
        }
    )
    assert rendered == SEED_FAIL


def test_fail_with_screenshots() -> None:
    xml = render_event_xml(
        {
            "ToUserName": "gh_1",
            "FromUserName": "o1",
            "CreateTime": 10,
            "MsgType": "event",
            "Event": "weapp_audit_fail",
            "Reason": "no",
            "FailTime": 11,
            "ScreenShot": "mediaA|mediaB||mediaC",
        }
    )
    event = parse_event(xml)
    assert isinstance(event, AuditFailEvent)
    assert event.screen_shot == ("mediaA", "mediaB", "mediaC")


def test_delay_event() -> None:
    xml = to_xml(
        {
            "ToUserName": "gh_1",
            "FromUserName": "o1",
            "CreateTime": 10,
            "MsgType": "event",
            "Event": "weapp_audit_delay",
            "Reason": "人工审核排队",
            "DelayTime": 12,
        }
    )
    assert parse_event(xml) == AuditDelayEvent(
        to_user_name="gh_1", from_user_name="o1", create_time=10, reason="人工审核排队",
        delay_time=12,
    )


def test_verify_ticket_event_hides_the_ticket() -> None:
    xml = (
        "<xml><AppId>wxcomponent</AppId><CreateTime>1413192605</CreateTime>"
        "<InfoType>component_verify_ticket</InfoType>"
        f"<ComponentVerifyTicket>{TICKET}</ComponentVerifyTicket></xml>"
    )
    event = parse_event(xml)
    assert event == ComponentVerifyTicketEvent(
        app_id="wxcomponent", create_time=1413192605, component_verify_ticket=TICKET
    )
    assert TICKET not in repr(event) and TICKET not in str(event)
    assert "wxcomponent" in repr(event)


def authorization_xml(info_type: str) -> str:
    return to_xml(
        {
            "AppId": "wxcomponent",
            "CreateTime": 1413192760,
            "InfoType": info_type,
            "AuthorizerAppid": "wxauthorizer",
            "AuthorizationCode": AUTH_CODE,
            "AuthorizationCodeExpiredTime": 1413196360,
            "PreAuthCode": PRE_AUTH,
        }
    )


@pytest.mark.parametrize(
    ("info_type", "cls"),
    [("authorized", AuthorizedEvent), ("updateauthorized", UpdateAuthorizedEvent)],
)
def test_authorization_events_hide_codes(
    info_type: str, cls: type[AuthorizedEvent | UpdateAuthorizedEvent]
) -> None:
    event = parse_event(authorization_xml(info_type))
    assert event == cls(
        app_id="wxcomponent",
        create_time=1413192760,
        authorizer_appid="wxauthorizer",
        authorization_code=AUTH_CODE,
        authorization_code_expired_time=1413196360,
        pre_auth_code=PRE_AUTH,
    )
    assert AUTH_CODE not in repr(event) and PRE_AUTH not in repr(event)


def test_unauthorized_event() -> None:
    xml = to_xml(
        {
            "AppId": "wxcomponent",
            "CreateTime": 1413192760,
            "InfoType": "unauthorized",
            "AuthorizerAppid": "wxauthorizer",
        }
    )
    assert parse_event(xml) == UnauthorizedEvent(
        app_id="wxcomponent", create_time=1413192760, authorizer_appid="wxauthorizer"
    )


def test_unknown_event_keeps_every_field_and_shows_only_names() -> None:
    xml = (
        "<xml><ToUserName>gh</ToUserName><MsgType>event</MsgType>"
        "<Event>wxa_privacy_apply</Event><Secretish>tok-HIDDEN</Secretish>"
        "<Empty/><Nested><A>1</A></Nested><Rep>1</Rep><Rep>2</Rep></xml>"
    )
    event = parse_event(xml)
    assert isinstance(event, GenericEvent)
    assert (event.msg_type, event.event, event.info_type) == ("event", "wxa_privacy_apply", None)
    assert event.fields == {
        "ToUserName": "gh",
        "MsgType": "event",
        "Event": "wxa_privacy_apply",
        "Secretish": "tok-HIDDEN",
        "Empty": None,
        "Nested": {"A": "1"},
        "Rep": ["1", "2"],
    }
    assert "tok-HIDDEN" not in repr(event)
    assert "Secretish" in repr(event)


@pytest.mark.parametrize(
    "xml",
    [
        "<xml/>",
        "<xml><MsgType>text</MsgType><Content>hi</Content></xml>",
        "<xml><InfoType>notify_third_fasteregister</InfoType></xml>",
        "<xml><MsgType><A/></MsgType></xml>",  # routing field that is not text
        # A component InfoType inside a MsgType message is not a component callback.
        "<xml><MsgType>event</MsgType><InfoType>authorized</InfoType></xml>",
    ],
)
def test_well_formed_unknown_pushes_never_raise(xml: str) -> None:
    assert isinstance(parse_event(xml), GenericEvent)


@pytest.mark.parametrize(
    ("xml", "match"),
    [
        (SEED_SUCCESS.replace("<SuccTime>1488856741</SuccTime>", ""), "lacks SuccTime"),
        (SEED_SUCCESS.replace("<CreateTime>1488856741", "<CreateTime>soon"), "not an integer"),
        (SEED_SUCCESS.replace("<CreateTime>1488856741", "<CreateTime>-1"), "not an integer"),
        (SEED_SUCCESS.replace("<CreateTime>1488856741", "<CreateTime>١٢"), "not an integer"),
        (SEED_FAIL.replace("<![CDATA[gh_fb9688c2a4b2]]>", "<a>1</a>"), "not a text element"),
        (SEED_FAIL.replace("</xml>", "<FailTime>2</FailTime></xml>"), "not a text element"),
        ("<xml><InfoType>component_verify_ticket</InfoType></xml>", "lacks AppId"),
    ],
)
def test_known_events_with_bad_fields_raise_xml_error(xml: str, match: str) -> None:
    with pytest.raises(WxaXmlError, match=match):
        parse_event(xml)


@pytest.mark.parametrize(
    ("xml", "match"),
    [
        ("", "malformed"),
        ("not xml", "malformed"),
        ("<xml><A></xml>", "malformed"),
        ("<xml>text only</xml>", "no child elements"),
        ("<a/><b/>", "malformed"),
        (b"\xff\xfe\x00<xml/>", "malformed"),
        ("<xml><A>\ud800</A></xml>", "not valid Unicode"),
        ('<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>', "DOCTYPE"),
        ('<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>', "DOCTYPE"),
        ("<xml><A>&undeclared;</A></xml>", "malformed"),
        ("<xml>" + "<a>" * 40 + "</a>" * 40 + "</xml>", "deeper"),
    ],
)
def test_bad_xml_raises_xml_error(xml: str | bytes, match: str) -> None:
    with pytest.raises(WxaXmlError, match=match) as info:
        parse_event(xml)
    assert isinstance(info.value, WxaSignatureError)


def test_size_limit_is_a_parameter() -> None:
    with pytest.raises(WxaBodyTooLargeError):
        parse_event(SEED_SUCCESS, max_bytes=100)
    with pytest.raises(WxaBodyTooLargeError):
        parse_event(SEED_SUCCESS.encode(), max_bytes=100)
    assert isinstance(parse_event(SEED_SUCCESS, max_bytes=len(SEED_SUCCESS)), AuditSuccessEvent)


def test_wrong_argument_type_is_a_wxa_error() -> None:
    with pytest.raises(WxaXmlError):
        parse_event(123)  # type: ignore[arg-type]


def test_to_xml_refuses_what_it_cannot_render() -> None:
    for fields in ({"Bad Tag": "x"}, {"A": True}, {"A": 1.5}, {"A": "\x00"}, {"1A": "x"}):
        with pytest.raises(WxaValidationError):
            to_xml(fields)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_parse_event_on_arbitrary_input_returns_or_raises_wxa_error(data: str | bytes) -> None:
    with contextlib.suppress(WxaError):
        event = parse_event(data)
        assert isinstance(event, EVENT_CLASSES)


_xml_text = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="\r\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff",
    ),
    min_size=1,
    max_size=40,
)
_fields = st.dictionaries(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.one_of(_xml_text, st.integers(min_value=0, max_value=2**40)),
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(fields=_fields, pretty=st.booleans())
def test_rendered_fields_parse_back_exactly(fields: dict[str, str | int], pretty: bool) -> None:
    parsed = parse_xml(to_xml(fields, pretty=pretty))
    assert parsed == {tag: str(value) for tag, value in fields.items()}
    # Whatever the tags are, parse_event accepts it: known kinds or a GenericEvent.
    try:
        parse_event(to_xml(fields))
    except WxaXmlError as exc:  # only a known kind with unusable fields may fail
        assert "event" in str(exc)


@settings(max_examples=60, deadline=None)
@given(
    reason=_xml_text,
    shots=st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True), max_size=4),
    times=st.tuples(*[st.integers(min_value=0, max_value=2**40)] * 2),
)
def test_fail_event_round_trip(reason: str, shots: list[str], times: tuple[int, int]) -> None:
    fields: dict[str, str | int] = {
        "ToUserName": "gh_x",
        "FromUserName": "o_x",
        "CreateTime": times[0],
        "MsgType": "event",
        "Event": "weapp_audit_fail",
        "Reason": reason,
        "FailTime": times[1],
    }
    if shots:
        fields["ScreenShot"] = "|".join(shots)
    event = parse_event(render_event_xml(fields))
    assert event == AuditFailEvent(
        to_user_name="gh_x",
        from_user_name="o_x",
        create_time=times[0],
        reason=reason,
        fail_time=times[1],
        screen_shot=tuple(shots),
    )
