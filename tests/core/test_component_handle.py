"""``client.component()``: component-token tables on the same call path as ``app()``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.core import (
    APPID,
    OK,
    TOKEN,
    FakeService,
    RefreshingTokenProvider,
    SleepRecorder,
    make_client,
)
from wxa_async import (
    ComponentHandle,
    StaticTokenProvider,
    WxaError,
    WxaSystemBusyError,
    WxaTokenError,
)
from wxa_async.endpoints import Endpoint
from wxa_async.models import NoArguments, WxaResponse

COMPONENT_TOKEN = "COMPONENT-TOKEN-SECRET-91c2"
BUSY = {"errcode": -1, "errmsg": "system error"}
EXPIRED = {"errcode": 42001, "errmsg": "access_token expired"}


class _ProbeTable:
    """A component-token table of one line, as an area module declares them."""

    get_probe = Endpoint(
        "GET", "wxa/probe", NoArguments, WxaResponse, idempotent=True, auth="component"
    )
    set_probe = Endpoint(
        "POST", "wxa/set_probe", NoArguments, WxaResponse, idempotent=False, auth="component"
    )


class _Handle(ComponentHandle, _ProbeTable):
    """A table class and one base: all an area of component endpoints needs."""


def _component(client: Any) -> _Handle:
    return _Handle(client)


async def test_the_component_token_goes_in_the_access_token_parameter() -> None:
    service = FakeService().reply(OK)
    provider = StaticTokenProvider({APPID: TOKEN}, component_token=COMPONENT_TOKEN)
    async with make_client(service, token_provider=provider) as client:
        assert isinstance(client.component(), ComponentHandle)
        assert client.component() is client.component()
        await _component(client).get_probe()
    request = service.requests[0]
    assert request.url.endswith("/wxa/probe")
    assert request.params == {"access_token": COMPONENT_TOKEN}


async def test_a_rejected_component_token_is_invalidated_and_the_call_made_once_more() -> None:
    provider = RefreshingTokenProvider()
    service = FakeService().reply(EXPIRED, OK)
    async with make_client(service, token_provider=provider) as client:
        await _component(client).set_probe()  # a mutation too: nothing was done
        assert client.retry_counts["token"] == 1
    sent = [r.params["access_token"] for r in service.requests]
    assert sent == [f"COMPONENT-{TOKEN}-1", f"COMPONENT-{TOKEN}-2"]
    assert provider.invalidated == [("component", f"{TOKEN}-1")]


async def test_a_second_rejection_surfaces() -> None:
    service = FakeService().reply(EXPIRED, EXPIRED, OK)
    async with make_client(service, token_provider=RefreshingTokenProvider()) as client:
        with pytest.raises(WxaTokenError):
            await _component(client).get_probe()
    assert len(service.requests) == 2


async def test_a_static_component_token_is_not_sent_again_after_a_rejection() -> None:
    service = FakeService().reply(EXPIRED, OK)
    provider = StaticTokenProvider({}, component_token=COMPONENT_TOKEN)
    async with make_client(service, token_provider=provider) as client:
        with pytest.raises(WxaTokenError):
            await _component(client).get_probe()
    assert len(service.requests) == 1


async def test_component_calls_retry_like_app_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps = SleepRecorder().install(monkeypatch)
    service = FakeService().reply(BUSY, BUSY, OK, BUSY)
    provider = StaticTokenProvider({}, component_token=COMPONENT_TOKEN)
    async with make_client(service, token_provider=provider) as client:
        await _component(client).get_probe()
        assert len(sleeps.delays) == 2
        with pytest.raises(WxaSystemBusyError):
            await _component(client).set_probe()  # a mutation: never repeated
    assert len(service.requests) == 4


async def test_no_component_token_says_what_is_missing() -> None:
    async with make_client(FakeService()) as client:
        with pytest.raises(WxaError, match="component_token"):
            client.component()


async def test_a_provider_without_the_component_methods_is_refused() -> None:
    class OnlyAuthorizers:
        async def get_token(self, appid: str) -> str:
            return TOKEN

        async def invalidate(self, appid: str, token: str) -> None:
            return None

    async with make_client(FakeService(), token_provider=OnlyAuthorizers()) as client:
        with pytest.raises(WxaError, match="OnlyAuthorizers has no get_component_token"):
            client.component()
        assert (await client.app(APPID).get_page()).errcode == 0  # app() still works


def test_a_table_on_the_wrong_handle_is_refused_when_the_class_is_made() -> None:
    from wxa_async import MiniProgram

    with pytest.raises(TypeError, match="get_probe"):
        type("Wrong", (MiniProgram, _ProbeTable), {})
