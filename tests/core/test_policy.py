"""The retry policy as a value the client is given, views of a client, ambiguity of a
failure, and who closes what."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from tests.support.core import (
    APPID,
    OK,
    SEED_PAGE,
    TOKEN,
    FakeService,
    SleepRecorder,
    free_port,
    make_client,
)
from wxa_async import (
    RetryPolicy,
    StaticTokenProvider,
    Timeout,
    WxaApiError,
    WxaClient,
    WxaDecodeError,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTransportError,
    WxaValidationError,
    is_ambiguous,
)
from wxa_async.testing import BytesResponse, HttpRequest, MockTransport

BUSY = {"errcode": -1, "errmsg": "system error"}


async def test_the_policy_sets_delays_and_its_sleep_does_the_waiting() -> None:
    sleeps = SleepRecorder()
    policy = sleeps.policy(base_delay=1.0, max_delay=3.0, jitter=False, deadline=None)
    service = FakeService().reply(BUSY, BUSY, BUSY, SEED_PAGE)
    async with make_client(service, retry=policy) as client:
        await client.app(APPID).get_page()
        assert client.retry is policy
    assert sleeps.delays == [1.0, 2.0, 3.0]  # doubling, capped


async def test_equal_jitter_draws_from_the_policys_random() -> None:
    policy = RetryPolicy(base_delay=1.0, random=lambda: 0.5)
    assert [policy.backoff(n) for n in range(3)] == [0.75, 1.5, 1.5]


async def test_with_options_swaps_the_policy_and_keeps_the_rest() -> None:
    fast, slow = SleepRecorder(), SleepRecorder()
    service = FakeService().reply(BUSY, SEED_PAGE, BUSY, SEED_PAGE)
    async with make_client(service, retry=slow.policy(), timeout=7) as client:
        view = client.with_options(retry=fast.policy(max_retries=1))
        assert view.timeout == Timeout(7, 7, 7) and view.max_retries == 1
        assert view.max_concurrency == client.max_concurrency
        await view.app(APPID).get_page()
        await client.app(APPID).get_page()
        assert client.retry_counts["get_page"] == 2  # the views share the counters
    assert len(fast.delays) == len(slow.delays) == 1


async def test_max_retries_and_retry_deadline_override_the_policys_fields() -> None:
    async with make_client(FakeService(), retry=RetryPolicy(max_retries=9),
                           max_retries=2, retry_deadline=None) as client:
        assert client.retry.max_retries == 2 and client.retry.deadline is None


@pytest.mark.parametrize("fields", [{"max_retries": -1}, {"base_delay": -0.1},
                                    {"deadline": -1.0}])
def test_a_bad_policy_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(WxaValidationError):
        RetryPolicy(**fields)


async def test_retry_deadline_counts_from_the_gate_not_from_the_queue() -> None:
    # One call at a time, two attempts of 0.05 s each: the last of 8 waits at least
    # 0.7 s at the gate, past its 0.3 s retry deadline, yet it is still retried once it
    # is let through.
    answers: dict[str, int] = {}

    async def slow_then_busy(request: HttpRequest) -> BytesResponse:
        await asyncio.sleep(0.05)
        token = request.params["access_token"]
        answers[token] = answers.get(token, 0) + 1
        body = b'{"errcode":-1,"errmsg":"busy"}' if answers[token] == 1 else b'{"errcode":0}'
        return BytesResponse(200, {"Content-Type": "application/json"}, body)

    appids = [f"wx{i}" for i in range(8)]
    tokens = StaticTokenProvider({appid: f"t-{appid}" for appid in appids})
    policy = SleepRecorder().policy(deadline=0.3, base_delay=0.001)
    async with WxaClient(tokens, transport=MockTransport(slow_then_busy), max_concurrency=1,
                         retry=policy) as client:
        await asyncio.gather(*(client.app(a).get_page() for a in appids))
        assert client.retry_counts["get_page"] == 8


def test_ambiguous_failures_are_those_that_may_have_been_applied() -> None:
    assert is_ambiguous(WxaSystemBusyError(-1, "busy"))
    assert is_ambiguous(WxaTransportError("connection reset"))
    assert is_ambiguous(WxaTimeoutError("no answer"))
    assert is_ambiguous(WxaTransportError("HTTP 502", status_code=502))
    assert not is_ambiguous(WxaTransportError("refused", request_sent=False))
    assert not is_ambiguous(WxaApiError(85009, "already under audit"))
    assert not is_ambiguous(WxaValidationError("bad input"))
    assert not is_ambiguous(ValueError("not ours"))
    assert is_ambiguous(WxaDecodeError("cut off", is_json=False))


# -- ownership --------------------------------------------------------------------


async def test_the_client_closes_a_transport_it_is_given() -> None:
    service = FakeService().reply(OK)
    async with make_client(service) as client:
        await client.app(APPID).get_page()
    assert service.transport.closed
    await client.aclose()  # twice: harmless


async def test_close_transport_false_leaves_a_shared_transport_open() -> None:
    service = FakeService()
    for _ in range(2):
        async with make_client(service, close_transport=False) as client:
            await client.app(APPID).get_page()
    assert not service.transport.closed


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_a_transport_built_inline_leaves_no_resource_warning(kind: str) -> None:
    from tests.support.soak import make_transport

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with WxaClient(token_provider=StaticTokenProvider({APPID: TOKEN}),
                             base_url=f"http://127.0.0.1:{free_port()}",
                             transport=make_transport(kind), max_retries=0) as client:
            with pytest.raises(WxaTransportError):
                await client.app(APPID).get_page()
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_a_connection_error_names_the_host_and_never_the_token(kind: str) -> None:
    from tests.support.soak import make_transport

    async with WxaClient(StaticTokenProvider({APPID: TOKEN}), f"http://127.0.0.1:{free_port()}",
                         make_transport(kind), max_retries=0) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.app(APPID).get_page()
    assert "127.0.0.1" in str(caught.value)
    assert TOKEN not in str(caught.value) and "access_token" not in str(caught.value)
