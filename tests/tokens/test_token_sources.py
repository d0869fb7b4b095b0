"""Where ComponentTokenProvider finds its long-lived secrets, and how it fails.

The contract: ``verify_ticket`` and ``refresh_tokens`` may each be a value, an
async callable or a store. Failures of the store or of the service reach callers as a
``WxaError`` that carries no secret, not even through the exception chain.
"""

from __future__ import annotations

import socket

import pytest

from wxa_async import (
    ComponentTokenProvider,
    MemoryTokenStore,
    RedisTokenStore,
    WxaClient,
    WxaDecodeError,
    WxaTransportError,
    WxaValidationError,
)
from wxa_async.testing import BytesResponse, Emulator, FakeTransport, MockTransport

COMPONENT = "wxcomponent00001"
APPID = "wxapp0000000001"
BASE = "http://emulator.invalid"


def _chain(exc: BaseException) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


async def test_refresh_tokens_and_ticket_read_from_stores_given_for_them() -> None:
    emu = Emulator()
    state = emu.add_app(APPID)
    emu.set_component(COMPONENT, "secret", "ticket@@@1")
    secrets = MemoryTokenStore()
    await secrets.set(f"wxa:{COMPONENT}:component_verify_ticket", "ticket@@@1", None)
    await secrets.set(f"wxa:{COMPONENT}:authorizer_refresh_token:{APPID}",
                      state.refresh_token, None)
    emu.rotate_refresh_tokens = True
    transport = FakeTransport(emu)
    async with ComponentTokenProvider(
        component_appid=COMPONENT, component_appsecret="secret", verify_ticket=secrets,
        refresh_tokens=secrets, base_url=BASE, transport=transport,
    ) as provider, WxaClient(provider, BASE, transport) as client:
        await client.app(APPID).get_category()
    # The rotated refresh token went back to the store it came from.
    stored = await secrets.get(f"wxa:{COMPONENT}:authorizer_refresh_token:{APPID}")
    assert stored == emu.app(APPID).refresh_token != ""
    assert emu.calls["api_authorizer_token"] == 1


@pytest.mark.parametrize("argument", ["verify_ticket", "refresh_tokens"])
def test_a_source_of_the_wrong_kind_is_refused_at_construction(argument: str) -> None:
    with pytest.raises(WxaValidationError, match=argument):
        ComponentTokenProvider(component_appid=COMPONENT, component_appsecret="s",
                               **{argument: 42}, transport=MockTransport(_never))  # type: ignore[arg-type]


async def _never(request: object) -> BytesResponse:
    raise AssertionError("no request expected")


async def test_a_cut_off_token_answer_keeps_no_token_in_the_exception_chain() -> None:
    body = b'{"component_access_token": "SECRET_COMPONENT_TOKEN", "expires_in": 72'

    async def handler(request: object) -> BytesResponse:
        return BytesResponse(200, {"content-type": "application/json"}, body)

    provider = ComponentTokenProvider(
        component_appid=COMPONENT, component_appsecret="s", verify_ticket="t",
        refresh_tokens={APPID: "r"}, transport=MockTransport(handler),
    )
    with pytest.raises(WxaDecodeError) as caught:
        await provider.get_token(APPID)
    for link in _chain(caught.value):
        assert "SECRET_COMPONENT_TOKEN" not in repr(link) + str(link) + repr(vars(link))
        assert "SECRET_COMPONENT_TOKEN" not in repr(getattr(link, "doc", ""))
    await provider.aclose()


async def test_a_redis_outage_is_a_transport_error_not_a_redis_exception() -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with RedisTokenStore(f"redis://:hunter2@127.0.0.1:{port}/0") as store:
        provider = ComponentTokenProvider(
            component_appid=COMPONENT, component_appsecret="s", verify_ticket="t",
            refresh_tokens={APPID: "r"}, store=store, transport=MockTransport(_never),
        )
        with pytest.raises(WxaTransportError) as caught:
            await provider.get_token(APPID)
    assert "unavailable" in str(caught.value)
    assert all("hunter2" not in repr(link) + str(link) for link in _chain(caught.value))
    await provider.aclose()
