"""Retries, their bounds, token refresh, per-call options and cancellation."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.core import (
    APPID,
    OK,
    SEED_PAGE,
    TOKEN,
    FakeService,
    RefreshingTokenProvider,
    SleepRecorder,
    call,
    make_client,
    never,
)
from wxa_async import (
    ENDPOINTS,
    StaticTokenProvider,
    Timeout,
    WxaClient,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTokenError,
    WxaTransportError,
)
from wxa_async.testing import BytesResponse, HttpRequest

BUSY = {"errcode": -1, "errmsg": "system error"}
IDEMPOTENT = {
    "get_qrcode", "get_category", "get_page", "get_latest_audit_status",
    "get_gray_release_plan", "get_audit_status", "get_support_version", "get_qrcode_jump",
    "query_quota", "get_code_privacy_info", "get_version_info", "get_history_version",
    "get_privacy_setting", "get_privacy_interface",
}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    return SleepRecorder().install(monkeypatch)


def sleeper(seconds: float) -> Callable[[HttpRequest], Any]:
    async def answer(_: HttpRequest) -> BytesResponse:
        await asyncio.sleep(seconds)
        raise AssertionError("the client should have timed out first")

    return answer


FAILURES: dict[str, Callable[[], Any]] = {
    "busy": lambda: BUSY,
    "http-500": lambda: BytesResponse(500, {}, b""),
    "http-503": lambda: BytesResponse(503, {}, b"<html>"),
    "http-429": lambda: BytesResponse(429, {}, b""),
    "timeout": lambda: never,  # the client's total timeout fires
    "transport-timeout": lambda: WxaTimeoutError("timed out (ReadTimeout)"),
    "reset": lambda: WxaTransportError("connection failed (ReadError)"),
    "refused": lambda: WxaTransportError("connection failed (ConnectError)", request_sent=False),
}


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
async def test_reads_are_retried_after_transient_failures(
    failure: str, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(FAILURES[failure](), FAILURES[failure](), SEED_PAGE)
    async with make_client(service, timeout=Timeout(1, 1, 0.05)) as client:
        result = await client.app(APPID).get_page()
        assert client.retry_counts["get_page"] == 2
    assert result.page_list == SEED_PAGE["page_list"]
    assert len(service.requests) == 3
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
async def test_retries_are_bounded_by_default_to_three(
    failure: str, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(*[FAILURES[failure]() for _ in range(10)])
    async with make_client(service, timeout=Timeout(1, 1, 0.05)) as client:
        with pytest.raises((WxaTransportError, WxaSystemBusyError)):
            await client.app(APPID).get_category()
    assert len(service.requests) == 4
    assert len(sleeps.delays) == 3


@pytest.mark.parametrize("max_retries", [0, 1, 5])
async def test_max_retries_per_call_through_with_options(
    max_retries: int, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(*[BUSY] * 10)
    async with make_client(service) as client:
        view = client.with_options(max_retries=max_retries)
        assert view.max_retries == max_retries and client.max_retries == 3
        with pytest.raises(WxaSystemBusyError):
            await view.app(APPID).get_page()
    assert len(service.requests) == max_retries + 1


async def test_max_retries_on_the_client(sleeps: SleepRecorder) -> None:
    service = FakeService().reply(*[BUSY] * 10)
    async with make_client(service, max_retries=1) as client:
        with pytest.raises(WxaSystemBusyError):
            await call(client, "query_quota")
    assert len(service.requests) == 2


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_only_idempotent_reads_retry_system_busy(
    endpoint: Any, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(BUSY, b"\xff\xd8img" if endpoint.binary else OK)
    async with make_client(service) as client:
        if endpoint.name in IDEMPOTENT:
            await call(client, endpoint.name)
            assert len(service.requests) == 2
        else:
            with pytest.raises(WxaSystemBusyError):
                await call(client, endpoint.name)
            assert len(service.requests) == 1  # it may have been applied: never twice
    assert endpoint.idempotent == (endpoint.name in IDEMPOTENT)


@pytest.mark.parametrize(
    "failure", ["http-500", "timeout", "transport-timeout", "reset"]
)
async def test_mutations_are_not_retried_once_the_request_may_have_arrived(
    failure: str, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(FAILURES[failure](), OK)
    async with make_client(service, timeout=Timeout(1, 1, 0.05)) as client:
        with pytest.raises(WxaTransportError):
            await call(client, "submit_audit")
        assert client.retry_counts["submit_audit"] == 0
    assert len(service.requests) == 1


@pytest.mark.parametrize("name", ["commit", "release", "undo_code_audit", "gray_release"])
async def test_mutations_are_retried_when_the_request_never_left(
    name: str, sleeps: SleepRecorder
) -> None:
    refused = WxaTransportError("connection failed (ConnectError)", request_sent=False)
    service = FakeService().reply(refused, refused, OK)
    async with make_client(service) as client:
        result = await call(client, name)
    assert result.errcode == 0
    assert len(service.requests) == 3
    # The same body both times.
    assert len({r.content for r in service.requests}) == 1


async def test_retry_deadline_stops_retrying(sleeps: SleepRecorder) -> None:
    service = FakeService().reply(*[BUSY] * 10)
    async with make_client(service, retry_deadline=0.0) as client:
        with pytest.raises(WxaSystemBusyError):
            await call(client, "get_page")
    assert len(service.requests) == 1


async def test_retry_deadline_counts_time_spent_in_attempts(sleeps: SleepRecorder) -> None:
    async def slow_busy(_: HttpRequest) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        return BUSY

    service = FakeService().reply(*[slow_busy] * 10)
    # No jitter drawn: backoffs of 0.05 and 0.1 s. Attempt 1 ends at ~0.3 s and its
    # backoff fits in 0.5 s; attempt 2 ends at >= 0.6 s: past the deadline already.
    policy = sleeps.policy(random=lambda: 0.0)
    async with make_client(service, retry=policy, retry_deadline=0.5) as client:
        with pytest.raises(WxaSystemBusyError):
            await call(client, "get_page")
    assert len(service.requests) == 2


async def test_retry_deadline_through_with_options(sleeps: SleepRecorder) -> None:
    service = FakeService().reply(*[BUSY] * 10)
    async with make_client(service) as client:
        with pytest.raises(WxaSystemBusyError):
            await client.with_options(retry_deadline=0.0).app(APPID).get_page()
    assert len(service.requests) == 1


async def test_backoff_grows_is_bounded_and_jittered(sleeps: SleepRecorder) -> None:
    firsts: list[float] = []
    for _ in range(10):
        sleeps.delays.clear()
        service = FakeService().reply(*[BUSY] * 10)
        async with make_client(service, max_retries=6) as client:
            with pytest.raises(WxaSystemBusyError):
                await call(client, "get_page")
        delays = list(sleeps.delays)
        assert len(delays) == 6
        assert all(0 < d <= 2.0 for d in delays)
        growing = delays[:5]  # later ones reach the cap, where jitter may reorder them
        assert all(b >= a for a, b in itertools.pairwise(growing))
        assert delays[3] > 2 * delays[0]
        firsts.append(delays[0])
    assert len(set(firsts)) > 1  # jitter: not the same schedule every time


async def test_token_error_invalidates_and_retries_once_with_a_fresh_token() -> None:
    provider = RefreshingTokenProvider()
    service = FakeService().reply({"errcode": 40001, "errmsg": "invalid credential"}, OK)
    async with make_client(service, token_provider=provider) as client:
        result = await call(client, "commit")  # a mutation: safe, nothing was done
        assert client.retry_counts["token"] == 1
    assert result.errcode == 0
    assert provider.invalidated == [(APPID, f"{TOKEN}-1")]
    assert [r.params["access_token"] for r in service.requests] == [f"{TOKEN}-1", f"{TOKEN}-2"]
    assert service.requests[0].content == service.requests[1].content


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_every_token_errcode_refreshes(errcode: int) -> None:
    provider = RefreshingTokenProvider()
    service = FakeService().reply({"errcode": errcode, "errmsg": "token"}, SEED_PAGE)
    async with make_client(service, token_provider=provider) as client:
        result = await call(client, "get_page")
    assert result.page_list == SEED_PAGE["page_list"]
    assert len(provider.invalidated) == 1 and len(service.requests) == 2


async def test_a_second_token_error_surfaces() -> None:
    provider = RefreshingTokenProvider()
    service = FakeService().reply(*[{"errcode": 42001, "errmsg": "expired"}] * 5)
    async with make_client(service, token_provider=provider) as client:
        with pytest.raises(WxaTokenError) as caught:
            await call(client, "get_page")
    assert caught.value.errcode == 42001
    assert len(service.requests) == 2
    assert provider.invalidated == [(APPID, f"{TOKEN}-1")]


async def test_static_provider_surfaces_the_token_error_without_sending_it_again() -> None:
    service = FakeService().reply(*[{"errcode": 40001, "errmsg": "invalid credential"}] * 5)
    provider = StaticTokenProvider({APPID: TOKEN})
    async with make_client(service, token_provider=provider) as client:
        with pytest.raises(WxaTokenError):
            await call(client, "get_page")
        assert client.retry_counts["token"] == 0
    # It cannot refresh: the same token again would only be rejected again.
    assert [r.params["access_token"] for r in service.requests] == [TOKEN]


async def test_token_refresh_does_not_use_up_retries(sleeps: SleepRecorder) -> None:
    provider = RefreshingTokenProvider()
    service = FakeService().reply(
        BUSY, {"errcode": 40001, "errmsg": "t"}, BUSY, BUSY, SEED_PAGE
    )
    async with make_client(service, token_provider=provider) as client:
        result = await call(client, "get_page")
        assert client.retry_counts["get_page"] == 3 and client.retry_counts["token"] == 1
    assert result.page_list == SEED_PAGE["page_list"]
    assert len(service.requests) == 5


async def test_with_options_timeout_is_honoured() -> None:
    service = FakeService().reply(sleeper(5.0), SEED_PAGE)
    async with make_client(service) as client:
        view = client.with_options(timeout=0.05, max_retries=0)
        with pytest.raises(WxaTimeoutError) as caught:
            await view.app(APPID).get_page()
        assert caught.value.endpoint == "get_page"
        assert view.timeout == Timeout(0.05, 0.05, 0.05)
        assert client.timeout == Timeout()  # the parent keeps its own
        # The connect limit reaches the transport; a JSON answer's read limit is the
        # client's (connect + read over the attempt), so the transport gets none.
        assert service.requests[0].timeout == Timeout(0.05, None, 0.05)
        # The parent client, sharing transport and gate, still works.
        assert (await client.app(APPID).get_page()).page_list == SEED_PAGE["page_list"]


async def test_timeout_none_disables_the_limit() -> None:
    async def slowish(_: HttpRequest) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return SEED_PAGE

    service = FakeService().reply(slowish)
    async with make_client(service, timeout=0.01) as client:
        result = await client.with_options(timeout=None).app(APPID).get_page()
    assert result.page_list == SEED_PAGE["page_list"]


async def test_cancellation_propagates_at_once_and_leaves_the_client_usable() -> None:
    service = FakeService().reply(never, SEED_PAGE)
    async with make_client(service, max_concurrency=1) as client:
        task = asyncio.create_task(call(client, "get_page"))
        while not service.requests:
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        assert task in done and task.cancelled()
        # The one-slot gate was released: the next call gets through and succeeds.
        async with asyncio.timeout(2.0):
            result = await call(client, "get_page")
    assert result.page_list == SEED_PAGE["page_list"]
    assert len(service.requests) == 2


async def test_cancellation_during_backoff_is_not_swallowed() -> None:
    service = FakeService().reply(*[BUSY] * 10)
    # Real sleeps here: the task is cancelled while waiting to retry.
    async with make_client(service, max_concurrency=1) as client:
        task = asyncio.create_task(call(client, "get_page"))
        while not service.requests:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        assert task in done and task.cancelled()
        service.queue.clear()
        async with asyncio.timeout(2.0):
            assert (await call(client, "get_page")).errcode == 0


async def test_concurrency_gate_limits_calls_in_flight() -> None:
    in_flight = 0
    peak = 0

    async def tracked(_: HttpRequest) -> dict[str, Any]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return OK

    service = FakeService().reply(*[tracked] * 20)
    async with make_client(service, max_concurrency=3) as client:
        await asyncio.gather(*(call(client, "get_page") for _ in range(20)))
    assert peak == 3


async def test_retries_are_logged_without_secrets(
    caplog: pytest.LogCaptureFixture, sleeps: SleepRecorder
) -> None:
    service = FakeService().reply(BUSY, OK)
    with caplog.at_level(logging.DEBUG, logger="wxa_async"):
        async with make_client(service) as client:
            await call(client, "get_page")
    messages = [r.getMessage() for r in caplog.records if r.name == "wxa_async"]
    assert any("retrying get_page" in m for m in messages)
    assert not any(TOKEN in m for m in messages)


async def test_with_options_view_needs_no_closing_and_shares_the_transport() -> None:
    service = FakeService()
    client = make_client(service)
    view = client.with_options(max_retries=0)
    assert view.transport is client.transport
    assert view.token_provider is client.token_provider
    await client.aclose()
    assert isinstance(view, WxaClient)
