"""The authorizer's appid comes from the callback URL, where WeChat replaces ``$APPID$``."""

from __future__ import annotations

import re

import pytest

from tests.push.support import Recorder, audit_xml, call, crypto, signed, ticket_xml
from tests.support.emulator import ITEM, client_for, make_emulator, serve_asgi
from wxa_async import WxaValidationError
from wxa_async.push import (
    AuditDelayEvent,
    AuditFailEvent,
    AuditSuccessEvent,
    AuthorizedEvent,
    CallbackHandler,
    ComponentVerifyTicketEvent,
    GenericEvent,
    callback_asgi_app,
)
from wxa_async.testing import render_event_xml


@pytest.mark.parametrize(
    ("path", "appid"),
    [
        ("/wx1234abcd5678ef90/callback", "wx1234abcd5678ef90"),
        ("/wechat/wx1234/events", "wx1234"),
        ("/wx1234/callback/", None),  # the segment before the last is empty
        ("/callback", None),
        ("/wechat/callback", None),  # not an appid
        ("/", None),
    ],
)
async def test_the_default_pattern_takes_the_segment_before_the_last(
    path: str, appid: str | None
) -> None:
    c = crypto()
    seen = Recorder()
    body, query = signed(c, audit_xml())
    reply = await call(callback_asgi_app(c, seen), query=query, chunks=[body], path=path)
    assert reply.status == 200
    (event,) = seen.events
    assert isinstance(event, AuditSuccessEvent)
    assert event.authorizer_appid == appid
    assert event.to_user_name == "gh_fb9688c2a4b2"  # the original id, not the appid


@pytest.mark.parametrize("kind", ["weapp_audit_success", "weapp_audit_fail", "weapp_audit_delay"])
def test_every_audit_event_carries_the_appid(kind: str) -> None:
    c = crypto()
    body, query = signed(c, audit_xml(event=kind))
    event = CallbackHandler(c).handle(body, query, path="/wxabc/callback")
    assert isinstance(event, AuditSuccessEvent | AuditFailEvent | AuditDelayEvent)
    assert event.authorizer_appid == "wxabc"


def test_generic_and_ticket_events_carry_it_too_and_none_without_a_path() -> None:
    c = crypto()
    handler = CallbackHandler(c)
    xml = render_event_xml({"MsgType": "event", "Event": "wxa_nickname_audit", "X": 1})
    body, query = signed(c, xml)
    event = handler.handle(body, query, path="/wxabc/callback")
    assert isinstance(event, GenericEvent) and event.authorizer_appid == "wxabc"
    assert handler.handle(body, query).authorizer_appid is None
    body, query = signed(c, ticket_xml("ticket@@@t", 1_700_000_000))
    ticket = handler.handle(body, query, path="/auth")
    assert isinstance(ticket, ComponentVerifyTicketEvent) and ticket.authorizer_appid is None


def test_an_authorization_event_keeps_the_appid_it_carries() -> None:
    c = crypto()
    xml = render_event_xml({
        "AppId": "wxcomponent0push", "CreateTime": 1_700_000_000, "InfoType": "authorized",
        "AuthorizerAppid": "wxsigned", "AuthorizationCode": "code@@@x",
        "AuthorizationCodeExpiredTime": 1_700_003_600,
    })
    body, query = signed(c, xml)
    event = CallbackHandler(c).handle(body, query, path="/wxfromurl/callback")
    assert isinstance(event, AuthorizedEvent)
    assert event.authorizer_appid == "wxsigned"  # signed content wins over the URL


@pytest.mark.parametrize(
    "pattern", [r"^/hooks/(?P<appid>[^/]+)$", re.compile(r"^/hooks/(?P<appid>[^/]+)$")]
)
async def test_the_pattern_is_configurable(pattern: str | re.Pattern[str]) -> None:
    c = crypto()
    seen = Recorder()
    app = callback_asgi_app(c, seen, appid_pattern=pattern)
    body, query = signed(c, audit_xml())
    await call(app, query=query, chunks=[body], path="/hooks/merchant-7")
    assert seen.events[0].authorizer_appid == "merchant-7"


def test_no_pattern_means_no_appid_and_a_pattern_needs_the_group() -> None:
    c = crypto()
    body, query = signed(c, audit_xml())
    event = CallbackHandler(c, appid_pattern=None).handle(body, query, path="/wx1/callback")
    assert event.authorizer_appid is None
    with pytest.raises(WxaValidationError, match="appid"):
        CallbackHandler(c, appid_pattern=r"/(\w+)/callback")


async def test_the_emulator_posts_to_the_url_with_the_appid_in_place_of_the_placeholder() -> None:
    c = crypto()
    emu, state, token = make_emulator(push_crypto=c)
    seen = Recorder()
    async with serve_asgi(callback_asgi_app(c, seen)) as base:
        emu.on_push(base + "/wechat/$APPID$/callback")
        async with client_for(emu, token) as client:
            app = client.app(state.appid)
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
            await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(state.appid, success=True)
        await emu.flush_pushes()
    assert emu.push_failures == []
    (event,) = seen.events
    assert isinstance(event, AuditSuccessEvent)
    assert event.authorizer_appid == state.appid
    assert event.to_user_name == state.original_id
