"""The soak: 10,000 calls over 500 mini programs through the emulator's HTTP mode on
loopback, about 5 % random faults (a third of them after the request was applied) and
every token expiring mid-run, on both transports. See wxa_async/_soak.py for the
workload and the README (Reliability) for what it backs."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from tests.support.soak import run_soak
from wxa_async import RetryPolicy, WxaError

FAULT_KINDS = {"busy", "http_502", "not_json", "latency", "drop"}


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_soak(transport: str) -> None:
    report = await run_soak(transport=transport, calls=10_000, apps=500)  # type: ignore[arg-type]
    print(report.summary())  # the figures, with -s
    assert report.checks == dict.fromkeys(report.checks, True), report.summary()
    assert report.calls >= 10_000 and report.apps == 500
    assert report.reads > 7000 and report.mutations > 2400
    # The run really was hostile: every kind of fault, some after the change was made.
    assert set(report.faults) == FAULT_KINDS
    assert 0.03 < sum(report.faults.values()) / report.requests < 0.07
    assert report.faults_after_apply > 50
    # Reads were retried, every mini program's token was refreshed after the expiry...
    assert sum(n for name, n in report.retries.items() if name != "token") > 100
    assert report.retries["token"] >= 500
    # ...and the documented recovery after an ambiguous mutation failure was exercised
    # both ways: found applied (not repeated), and found not applied (issued again).
    assert report.found_applied > 5 and report.reissued > 5
    assert report.max_applied == 1
    assert report.open_connections == report.pending_tasks == report.resource_warnings == 0


async def test_the_soak_detects_a_client_that_repeats_mutations() -> None:
    # A client that retries everything re-sends mutations whose answer was lost *after*
    # the change was made: the soak must see the double application.
    @attrs.frozen
    class RetryEverything(RetryPolicy):
        def retryable(self, endpoint: Any, exc: WxaError) -> bool:
            return True

    report = await run_soak(transport="aiohttp", calls=600, apps=100, fault_rate=0.3,
                            after_apply_rate=1.0, latency=0.01, max_retries=3,
                            retry=RetryEverything(base_delay=0.001, max_delay=0.001))
    assert report.max_applied > 1
    assert report.checks["no_mutation_applied_twice"] is False
    assert not report.ok
    print(report.summary())


async def test_the_soak_detects_reads_that_give_up() -> None:
    report = await run_soak(transport="aiohttp", calls=600, apps=100, fault_rate=0.2,
                            max_retries=0, latency=0.01, tokens="issued")
    assert report.read_failures
    assert report.checks["every_read_succeeded"] is False
    # Issued tokens refresh too: the expiry mid-run is still survived. Not every app
    # need see its 40001: with no retries, a fault can take an app's only call after
    # the expiry. But no read may fail on the expired token itself.
    assert report.retries["token"] >= 80
    assert not {"errcode 40001", "errcode 42001"} & set(report.read_failures), report.read_failures
