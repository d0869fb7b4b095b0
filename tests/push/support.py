"""Helpers for the push tests: pushes as WeChat signs them, and ASGI calls without a server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from wxa_async.push import Event, MessageCrypto
from wxa_async.testing import render_event_xml

TOKEN = "push-token-SECRET"
KEY = "pUshKeypUshKeypUshKeypUshKeypUshKeypUshKeyA"
COMPONENT = "wxcomponent0push"


def crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, KEY, COMPONENT)


def audit_xml(*, event: str = "weapp_audit_success", when: int = 1_700_000_000) -> str:
    fields: dict[str, str | int] = {
        "ToUserName": "gh_fb9688c2a4b2", "FromUserName": "o-system", "CreateTime": when,
        "MsgType": "event", "Event": event,
    }
    if event == "weapp_audit_success":
        fields["SuccTime"] = when
    elif event == "weapp_audit_fail":
        fields |= {"Reason": "不符合规范", "FailTime": when}
    else:
        fields |= {"Reason": "排队中", "DelayTime": when}
    return render_event_xml(fields)


def ticket_xml(ticket: str, created: int) -> str:
    return render_event_xml({
        "AppId": COMPONENT, "CreateTime": created, "InfoType": "component_verify_ticket",
        "ComponentVerifyTicket": ticket,
    })


def signed(
    crypto: MessageCrypto, xml: str, *, timestamp: int | None = None, nonce: str = "n0nce"
) -> tuple[bytes, dict[str, str]]:
    """The body and query WeChat would POST; stamped now unless ``timestamp`` is given."""
    stamp = int(time.time()) if timestamp is None else timestamp
    body, query = crypto.build_push(xml, to_user_name="gh_fb9688c2a4b2", timestamp=stamp,
                                    nonce=nonce)
    return body.encode(), query


class Recorder:
    """An ``on_event`` that keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


class Reply:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start, body = messages
        self.status: int = start["status"]
        self.headers = {k.decode(): v.decode() for k, v in start["headers"]}
        self.text: str = body["body"].decode()


async def call(
    app: Any,
    *,
    query: dict[str, str] | None = None,
    chunks: Iterable[bytes] = (b"",),
    path: str = "/wechat/callback",
    stall: bool = False,
) -> Reply:
    """One POST to an ASGI app; with ``stall`` the body stops arriving after ``chunks``."""
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            if stall:
                await asyncio.Event().wait()  # the client never sends the rest
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending) or stall}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": path,
        "query_string": urlencode(query or {}).encode(), "headers": [],
    }
    await app(scope, receive, send)
    return Reply(sent)
