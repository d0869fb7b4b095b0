"""A pushed component_verify_ticket reaches the token provider and is the one it uses.

End to end: WeChat (the emulator) rotates the ticket and pushes it, encrypted, to the
platform's callback; the callback decrypts and parses it, hands the ticket to the
provider, and the provider's next component-token fetch is accepted with it.
"""

from __future__ import annotations

import time

import pytest

from wxa_async import (
    CallbackHandler,
    ComponentTokenProvider,
    MessageCrypto,
    WxaApiError,
    WxaClient,
    WxaError,
)
from wxa_async.push import ComponentVerifyTicketEvent
from wxa_async.testing import Emulator, FakeTransport, render_event_xml

COMPONENT = "wxcomponent00001"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def pushed_ticket(crypto: MessageCrypto, ticket: str) -> tuple[str, dict[str, str]]:
    xml = render_event_xml({
        "AppId": COMPONENT, "CreateTime": 1_700_000_000,
        "InfoType": "component_verify_ticket", "ComponentVerifyTicket": ticket,
    })
    # WeChat stamps the query with the time it sends: the callback's window is checked.
    return crypto.build_push(xml, to_user_name=COMPONENT, timestamp=int(time.time()), nonce="n1")


async def test_a_pushed_ticket_is_handed_to_the_provider_and_used() -> None:
    emu = Emulator()
    emu.add_template(1, pages=["index"])
    state = emu.add_app("wxapp0000000001")
    emu.set_component(COMPONENT, "secret", "ticket@@@old")
    crypto = MessageCrypto(token="cbtoken", encoding_aes_key=AES_KEY, appid=COMPONENT)
    handler = CallbackHandler(crypto)
    transport = FakeTransport(emu)
    provider = ComponentTokenProvider(
        component_appid=COMPONENT, component_appsecret="secret",
        refresh_tokens={"wxapp0000000001": state.refresh_token},
        base_url="http://emulator.invalid", transport=transport,
    )
    async with provider, WxaClient(provider, "http://emulator.invalid", transport) as client:
        # No ticket yet: the provider cannot fetch a component token.
        with pytest.raises(WxaError) as caught:
            await client.app("wxapp0000000001").get_category()
        # Refused here, not by the service: nothing was sent without a ticket.
        assert not isinstance(caught.value, WxaApiError)
        assert "set_verify_ticket" in str(caught.value)
        assert emu.calls["api_component_token"] == 0

        # WeChat rotates the ticket and pushes the new one to the callback URL.
        emu.set_component(COMPONENT, "secret", "ticket@@@new")
        body, query = pushed_ticket(crypto, "ticket@@@new")
        event = handler.handle(body.encode(), query)
        assert isinstance(event, ComponentVerifyTicketEvent)
        assert "ticket@@@new" not in repr(event)
        await provider.set_verify_ticket(event.component_verify_ticket)

        categories = await client.app("wxapp0000000001").get_category()
    assert categories.category_list[1].third_class == "高等"
    assert emu.calls["api_component_token"] == 1  # accepted at the first try
