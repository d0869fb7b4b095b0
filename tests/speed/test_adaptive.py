"""The adaptive concurrency limit against the emulator, on the fake transport, in
virtual time: it grows while latency stays at its floor, backs off on 45011, -1 and
climbing latency, and never leaves its bounds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wxa_async import AdaptiveLimit, StaticTokenProvider, WxaClient, WxaQuotaError
from wxa_async.testing import Emulator, FakeTransport, Latency, Load, RateLimit

from ..support.speed import run_virtual

APPID = "wxadaptive000001"


def _setup(load: Load) -> tuple[Emulator, str]:
    emu = Emulator()
    emu.add_app(APPID)
    emu.load = load
    return emu, emu.issue_token(APPID, lifetime=10**9)


def _client(emu: Emulator, token: str, limit: AdaptiveLimit | int) -> WxaClient:
    return WxaClient(
        StaticTokenProvider({APPID: token}), transport=FakeTransport(emu),
        max_concurrency=limit, max_retries=0,
    )


async def _gather(client: WxaClient, calls: int) -> list[Any]:
    app = client.app(APPID)
    return await asyncio.gather(*(app.get_category() for _ in range(calls)),
                                return_exceptions=True)


def _refused(results: list[Any]) -> int:
    return sum(isinstance(r, WxaQuotaError) and r.errcode == 45011 for r in results)


async def _run(load: Load, limit: AdaptiveLimit | int, calls: int) -> dict[str, Any]:
    emu, token = _setup(load)
    async with _client(emu, token, limit) as client:
        limits: list[int] = []

        async def watch() -> None:
            while True:
                limits.append(client.concurrency)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        started = asyncio.get_running_loop().time()
        results = await _gather(client, calls)
        elapsed = asyncio.get_running_loop().time() - started
        watcher.cancel()
        others = [r for r in results if isinstance(r, BaseException) and not (
            isinstance(r, WxaQuotaError) and r.errcode == 45011)]
        assert not others, others[:3]
        return {"refused": _refused(results), "final": client.concurrency, "limits": limits,
                "peak": load.peak_in_flight, "seconds": elapsed}


def test_grows_to_its_maximum_while_latency_stays_at_the_floor() -> None:
    load = Load(latency=Latency(0.03, 0.01))
    out = run_virtual(_run(load, AdaptiveLimit(min=4, max=128), 8_000))
    assert out["refused"] == 0
    assert out["limits"][0] == 16  # min * 4
    assert out["final"] == 128
    assert out["peak"] <= 128  # never above its bound at the service
    assert max(out["limits"]) == 128


def test_backs_off_on_45011_and_keeps_it_rare() -> None:
    # 30,000 calls a minute = 500/s; at 30 ms that is 15 calls in flight.
    def load() -> Load:
        return Load(latency=Latency(0.03, 0.01), rate_limit=RateLimit(30_000, burst=0.25))

    adaptive = run_virtual(_run(load(), AdaptiveLimit(min=2, max=256), 8_000))
    fixed = run_virtual(_run(load(), 256, 8_000))
    assert min(adaptive["limits"]) >= 2 and max(adaptive["limits"]) <= 256
    assert adaptive["final"] <= 40  # found the knee, far from the maximum
    # A fixed limit far above the knee mostly meets 45011; the adaptive one rarely.
    assert fixed["refused"] > 8_000 * 0.5
    assert adaptive["refused"] < 8_000 * 0.05


def test_backs_off_when_latency_climbs_past_the_services_capacity() -> None:
    # The service holds 24 calls at its base latency; past that every call queues.
    load = Load(latency=Latency(0.03, 0.01, capacity=24))
    out = run_virtual(_run(load, AdaptiveLimit(min=4, max=512), 8_000))
    assert out["refused"] == 0
    settled = out["limits"][len(out["limits"]) // 2:]
    # The knee's band (latency up to `tolerance` = 2 times the floor, judged on
    # smoothed medians, so a step or two past it), not the bound of 512.
    assert max(settled) <= 24 * 2 * 1.1
    assert min(settled) >= 4


def test_never_goes_below_its_minimum_in_a_storm() -> None:
    load = Load(latency=Latency(0.03, 0.01), rate_limit=RateLimit(1, burst=0.0))
    out = run_virtual(_run(load, AdaptiveLimit(min=3, max=64), 2_000))
    assert out["refused"] >= 1_999  # the bucket holds one call
    assert out["final"] == 3
    assert min(out["limits"]) == 3


def test_system_busy_cuts_the_limit_too() -> None:
    async def scenario() -> tuple[int, int]:
        emu, token = _setup(Load(latency=Latency(0.03, 0.0)))
        async with _client(emu, token, AdaptiveLimit(min=2, max=64, initial=32)) as client:
            emu.faults.set_rate(1.0, kinds=["busy"])
            await _gather(client, 500)
            busy = client.concurrency
            emu.faults.clear()
            await _gather(client, 5_000)
            return busy, client.concurrency

    busy, recovered = run_virtual(scenario())
    assert busy == 2
    assert recovered > busy  # grows back once the service is well again


def test_fixed_limits_report_themselves() -> None:
    emu, token = _setup(Load())
    client = _client(emu, token, 7)
    assert client.concurrency == client.max_concurrency == 7
    adaptive = _client(emu, token, AdaptiveLimit(min=2, max=50, initial=5))
    assert (adaptive.concurrency, adaptive.max_concurrency) == (5, 50)


@pytest.mark.parametrize("kwargs", [
    {"min": 0}, {"min": 10, "max": 5}, {"min": 2, "max": 8, "initial": 9},
    {"backoff": 1.0}, {"backoff": 0.0}, {"tolerance": 1.0}, {"window": 0},
])
def test_bad_bounds_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AdaptiveLimit(**kwargs)


def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def scenario() -> int:
        emu, token = _setup(Load(latency=Latency(0.03, 0.0)))
        async with _client(emu, token, AdaptiveLimit(min=1, max=1)) as client:
            app = client.app(APPID)
            tasks = [asyncio.create_task(app.get_category()) for _ in range(10)]
            await asyncio.sleep(0.01)
            for task in tasks[1:6]:
                task.cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            assert sum(isinstance(d, asyncio.CancelledError) for d in done) == 5
            await _gather(client, 5)  # the gate still admits calls
            return emu.calls["get_category"]

    assert run_virtual(scenario()) == 10


def test_holds_while_this_processs_cpu_is_the_bottleneck() -> None:
    # A real loop this time: the signal is how long a freed slot waits for the event
    # loop, and a virtual clock never waits. A task hogging the loop (as a busy process
    # parsing thousands of answers does) makes every handed-over slot wait about 30 ms
    # against a floor of 10 ms: more in flight would only queue for the CPU, so the
    # limit must not grow, where the same service with an idle loop lets it double.
    import time

    async def scenario() -> tuple[int, int]:
        emu, token = _setup(Load(latency=Latency(0.01, 0.0)))
        async with _client(emu, token, AdaptiveLimit(min=2, max=64, initial=8)) as client:
            stop = asyncio.Event()

            async def hog() -> None:
                while not stop.is_set():
                    time.sleep(0.03)  # the loop is busy: nothing else runs meanwhile
                    await asyncio.sleep(0)

            hogging = asyncio.create_task(hog())
            await _gather(client, 200)
            stop.set()
            await hogging
            return client.concurrency, client._wire.gate.events["cpu"]  # type: ignore[union-attr]

    limit, held = asyncio.run(scenario())
    assert limit <= 8
    assert held > 0
