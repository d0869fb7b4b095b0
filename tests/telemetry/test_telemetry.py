"""Structured log records and OpenTelemetry spans and metrics, read back from the SDK's
in-memory exporter and reader: what a user's dashboards would see."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from wxa_async import StaticTokenProvider, WxaApiError, WxaClient
from wxa_async.telemetry import disable_opentelemetry, enable_opentelemetry, probe
from wxa_async.testing import Emulator, FakeTransport

APPID = "wxtelemetry00001"

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = sdk_trace.TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = sdk_metrics.MeterProvider(metric_readers=[self.reader])
        enable_opentelemetry(tracer_provider, self.meter_provider)

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """The data points of metric ``name``, by their attributes."""
        data = self.reader.get_metrics_data()
        found: dict[tuple[tuple[str, Any], ...], Any] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            key = tuple(sorted(point.attributes.items()))
                            found[key] = getattr(point, "value", getattr(point, "count", None))
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    recorder = Otel()
    yield recorder
    disable_opentelemetry()
    recorder.meter_provider.shutdown()


@pytest.fixture
def emulated() -> tuple[Emulator, str]:
    emu = Emulator(seed=3)
    emu.add_app(APPID)
    return emu, emu.issue_token(APPID)


def _client(emu: Emulator, token: str) -> WxaClient:
    return WxaClient(StaticTokenProvider({APPID: token}), "http://emulator.invalid",
                     FakeTransport(emu))


async def test_one_span_per_call_with_retries_as_events(
    otel: Otel, emulated: tuple[Emulator, str]
) -> None:
    emu, token = emulated
    emu.faults.add("busy", endpoint="get_category", times=2)
    async with _client(emu, token) as client:
        await client.app(APPID).get_category()
        with pytest.raises(WxaApiError):
            await client.app(APPID).release()  # nothing audited: errcode 85019

    ok, failed = otel.spans.get_finished_spans()
    assert ok.name == "wxa_async get_category"
    assert dict(ok.attributes) == {
        "wxa.endpoint": "get_category", "wxa.appid": APPID, "wxa.attempts": 3}
    assert [event.name for event in ok.events] == ["retry", "retry"]
    assert ok.events[0].attributes["wxa.errcode"] == -1
    assert ok.events[0].attributes["wxa.attempt"] == 1
    assert ok.status.is_ok

    assert failed.name == "wxa_async release"
    assert failed.attributes["wxa.errcode"] == 85019
    assert failed.attributes["error.type"] == "WxaApiError"
    assert failed.attributes["wxa.attempts"] == 1  # a mutation is never retried
    assert not failed.status.is_ok and "85019" in (failed.status.description or "")

    calls = otel.points("wxa_async.calls")
    assert calls[(("wxa.endpoint", "get_category"), ("wxa.outcome", "ok"))] == 1
    assert calls[(("wxa.endpoint", "release"), ("wxa.outcome", "error"))] == 1
    retries = otel.points("wxa_async.retries")
    assert retries == {(("error.type", "WxaSystemBusyError"), ("wxa.endpoint", "get_category")): 2}
    errors = otel.points("wxa_async.errors")
    assert errors == {(("wxa.endpoint", "release"), ("wxa.errcode", 85019)): 1}
    assert sum(otel.points("wxa_async.call.duration").values()) == 2

    # No credential anywhere a collector would see.
    seen = repr([(s.attributes, [e.attributes for e in s.events], s.status.description)
                 for s in (ok, failed)]) + repr(otel.reader.get_metrics_data())
    assert token not in seen


async def test_transport_errors_are_counted_by_type(
    otel: Otel, emulated: tuple[Emulator, str]
) -> None:
    emu, token = emulated
    emu.faults.add("http_502", endpoint="get_category", times=None)
    async with _client(emu, token).with_options(max_retries=1) as client:
        with pytest.raises(Exception, match="502"):
            await client.app(APPID).get_category()
    (span,) = otel.spans.get_finished_spans()
    assert span.attributes["error.type"] == "WxaTransportError"
    assert "wxa.errcode" not in span.attributes
    errors = otel.points("wxa_async.errors")
    assert errors == {(("wxa.endpoint", "get_category"), ("wxa.errcode", "WxaTransportError")): 1}


async def test_structured_log_records(
    caplog: pytest.LogCaptureFixture, emulated: tuple[Emulator, str]
) -> None:
    emu, token = emulated
    emu.faults.add("busy", endpoint="get_category", times=1)
    caplog.set_level(logging.DEBUG, logger="wxa_async")
    async with _client(emu, token) as client:
        await client.app(APPID).get_category()
        with pytest.raises(WxaApiError):
            await client.app(APPID).release()
    records = [r for r in caplog.records if hasattr(r, "wxa_endpoint")]
    retry, done, failed = records
    assert (retry.levelno, retry.wxa_outcome, retry.wxa_attempt, retry.wxa_errcode) == (
        logging.INFO, "retry", 1, -1)
    assert (done.levelno, done.wxa_outcome, done.wxa_attempt, done.wxa_errcode) == (
        logging.DEBUG, "ok", 2, None)
    assert done.wxa_appid == APPID and done.wxa_endpoint == "get_category"
    assert isinstance(done.wxa_elapsed, float) and done.wxa_elapsed >= 0
    assert (failed.wxa_outcome, failed.wxa_errcode, failed.wxa_endpoint) == (
        "error", 85019, "release")
    assert all(token not in r.getMessage() and token not in repr(r.__dict__)
               for r in caplog.records)


def test_nothing_is_measured_when_nothing_listens() -> None:
    logger = logging.getLogger("wxa_async")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        assert probe("get_page", APPID) is None
    finally:
        logger.setLevel(level)
