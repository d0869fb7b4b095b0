"""The bulk helper against a fake of the HTTP layer (the SDK above it is real)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from wxa_async import MiniProgram, StaticTokenProvider, WxaApiError, WxaClient, WxaValidationError
from wxa_async.bulk import BulkResult, Outcome, bulk
from wxa_async.testing import BytesResponse, HttpRequest, MockTransport

APPIDS = [f"wx{i:016d}" for i in range(40)]
FAILING = {APPIDS[3], APPIDS[17], APPIDS[30]}


def _appid_of(request: HttpRequest) -> str:
    return request.params["access_token"].removeprefix("token-")


class FakeService:
    """Answers get_page with the appid as the only page; errcode 85013 for FAILING."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = 0
        self.cancelled = 0
        self.block: asyncio.Event | None = None

    async def handle(self, request: HttpRequest) -> BytesResponse:
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.block is not None:
                await self.block.wait()
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        appid = _appid_of(request)
        if appid in FAILING:
            payload: dict[str, Any] = {"errcode": 85013, "errmsg": "invalid appid"}
        else:
            payload = {"errcode": 0, "errmsg": "ok", "page_list": [f"pages/{appid}"]}
        body = json.dumps(payload).encode()
        return BytesResponse(200, {"Content-Type": "application/json"}, body)


def _client(service: FakeService, max_concurrency: int | None = None) -> WxaClient:
    tokens = StaticTokenProvider({appid: f"token-{appid}" for appid in APPIDS})
    return WxaClient(
        tokens, transport=MockTransport(service.handle), max_concurrency=max_concurrency,
        max_retries=0,
    )


async def get_pages(app: MiniProgram) -> list[str]:
    return (await app.get_page()).page_list


async def test_every_result_returned_in_the_given_order() -> None:
    service = FakeService()
    ok_ids = [a for a in APPIDS if a not in FAILING]
    async with _client(service) as client:
        result = await bulk(client, ok_ids, get_pages, concurrency=7)
    assert isinstance(result, BulkResult)
    assert list(result) == ok_ids
    assert result.ok
    assert result.succeeded == {a: [f"pages/{a}"] for a in ok_ids}
    assert result.failed == {}
    assert service.started == len(ok_ids)


async def test_failures_are_isolated_and_every_kind_is_captured() -> None:
    service = FakeService()

    async def operation(app: MiniProgram) -> list[str]:
        if app.appid == APPIDS[5]:
            raise KeyError("a bug in the caller's operation")
        return await get_pages(app)

    async with _client(service) as client:
        result = await bulk(client, [*APPIDS, ""], operation, concurrency=4)
    assert not result.ok
    assert len(result) == len(APPIDS) + 1
    assert set(result.failed) == FAILING | {APPIDS[5], ""}
    for appid in FAILING:
        error = result[appid].error
        assert isinstance(error, WxaApiError) and error.errcode == 85013
        with pytest.raises(WxaApiError):
            result[appid].unwrap()
    assert isinstance(result[APPIDS[5]].error, KeyError)
    assert isinstance(result[""].error, WxaValidationError)  # a bad appid is an outcome too
    expected_ok = set(APPIDS) - FAILING - {APPIDS[5]}
    assert set(result.succeeded) == expected_ok
    assert all(result[a].unwrap() == [f"pages/{a}"] for a in expected_ok)
    assert "token-" not in repr(result)


async def test_progress_reports_each_appid_once_with_its_outcome() -> None:
    service = FakeService()
    seen: list[tuple[int, int, str, Outcome[Any]]] = []
    async with _client(service) as client:
        result = await bulk(
            client, APPIDS, get_pages, concurrency=5,
            on_progress=lambda done, total, appid, outcome: seen.append(
                (done, total, appid, outcome)
            ),
        )
    assert [done for done, *_ in seen] == list(range(1, len(APPIDS) + 1))
    assert {total for _, total, _, _ in seen} == {len(APPIDS)}
    assert sorted(appid for _, _, appid, _ in seen) == sorted(APPIDS)
    assert all(result[appid] is outcome for _, _, appid, outcome in seen)


async def test_an_async_progress_callback_is_awaited() -> None:
    service = FakeService()
    seen: list[str] = []

    async def report(done: int, total: int, appid: str, outcome: Outcome[Any]) -> None:
        await asyncio.sleep(0)
        seen.append(appid)

    async with _client(service) as client:
        await bulk(client, APPIDS[:10], get_pages, on_progress=report)
    assert sorted(seen) == sorted(APPIDS[:10])


async def test_a_failing_progress_callback_stops_the_bulk() -> None:
    service = FakeService(delay=0.001)

    def report(done: int, total: int, appid: str, outcome: Outcome[Any]) -> None:
        if done == 3:
            raise RuntimeError("progress bar broke")

    async with _client(service) as client:
        with pytest.raises(RuntimeError, match="progress bar broke"):
            await bulk(client, APPIDS, get_pages, concurrency=4, on_progress=report)
    assert service.started < len(APPIDS)
    assert service.in_flight == 0


@pytest.mark.parametrize("concurrency", [1, 3, 16])
async def test_concurrency_limit_is_respected_and_reached(concurrency: int) -> None:
    service = FakeService(delay=0.001)
    # The client's gate is wider than the bulk's, so only the bulk limits here.
    async with _client(service, max_concurrency=64) as client:
        result = await bulk(client, APPIDS, get_pages, concurrency=concurrency)
    assert len(result) == len(APPIDS)
    assert service.max_in_flight == concurrency


async def test_default_concurrency_is_the_clients() -> None:
    service = FakeService(delay=0.001)
    tokens = StaticTokenProvider({appid: f"token-{appid}" for appid in APPIDS})
    transport = MockTransport(service.handle, default_concurrency=6)
    async with WxaClient(tokens, transport=transport) as client:
        result = await bulk(client, APPIDS, get_pages)
    assert len(result) == len(APPIDS)
    assert service.max_in_flight == 6


async def test_repeated_appids_run_once_and_nothing_runs_for_none() -> None:
    service = FakeService()
    async with _client(service) as client:
        result = await bulk(client, [APPIDS[0], APPIDS[1], APPIDS[0]], get_pages)
        empty = await bulk(client, [], get_pages)
    assert list(result) == [APPIDS[0], APPIDS[1]]
    assert service.started == 2
    assert len(empty) == 0 and empty.ok


async def test_concurrency_must_be_positive() -> None:
    async with _client(FakeService()) as client:
        with pytest.raises(WxaValidationError):
            await bulk(client, APPIDS, get_pages, concurrency=0)


async def test_cancelling_the_bulk_cancels_everything_in_flight() -> None:
    service = FakeService()
    service.block = asyncio.Event()  # never set: every call hangs until cancelled
    async with _client(service, max_concurrency=64) as client:
        task = asyncio.create_task(bulk(client, APPIDS, get_pages, concurrency=8))
        while service.started < 8:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert service.started == 8
        assert service.cancelled == 8
        assert service.in_flight == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_progress_counts_match_outcomes() -> None:
    service = FakeService(delay=0.0005)
    counts: Counter[bool] = Counter()
    async with _client(service) as client:
        result = await bulk(
            client, APPIDS, get_pages, concurrency=10,
            on_progress=lambda done, total, appid, outcome: counts.update([outcome.ok]),
        )
    assert counts[False] == len(result.failed) == len(FAILING)
    assert counts[True] == len(result.succeeded)
