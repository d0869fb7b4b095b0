"""Observability: structured log records and optional OpenTelemetry tracing and metrics.

Log records go to the ``wxa_async`` logger with these ``extra`` attributes:

* ``wxa_appid``: the mini program (empty for component calls)
* ``wxa_endpoint``: the table name, ``get_page``
* ``wxa_attempt``: the attempt number, 1 for the first
* ``wxa_errcode``: WeChat's errcode, or None when the failure had none
* ``wxa_elapsed``: seconds since the call began (token lookup and queueing included)
* ``wxa_outcome``: ``ok``, ``error`` or ``cancelled`` (call records); ``retry``

One record at DEBUG ends every call; one at INFO announces every retry. Nothing is
measured or logged when the logger is not enabled for INFO and OpenTelemetry is off.

:func:`enable_opentelemetry` (the ``otel`` extra) adds one span per call, named
``wxa_async <endpoint>``, with the same attributes (``wxa.appid``, ``wxa.endpoint``,
``wxa.attempts``, ``wxa.errcode``, ``error.type``) and each retry as a ``retry`` event;
and the counters ``wxa_async.calls`` (by endpoint and outcome), ``wxa_async.retries``
(by endpoint and error type) and ``wxa_async.errors`` (by endpoint and errcode), with
the histogram ``wxa_async.call.duration`` in seconds. No credential is ever part of a
record or an attribute: tokens are never known here, and error messages hold none.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

from ._extras import require_extra
from .errors import WxaApiError

__all__ = ["CallProbe", "disable_opentelemetry", "enable_opentelemetry", "probe"]

_log = logging.getLogger("wxa_async")


class _Otel:
    """The tracer and instruments made by :func:`enable_opentelemetry`."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from opentelemetry import context, metrics, trace

        from ._version import __version__

        self.context = context
        self.trace = trace
        self.tracer = trace.get_tracer("wxa_async", __version__, tracer_provider)
        meter = metrics.get_meter("wxa_async", __version__, meter_provider)
        self.calls = meter.create_counter(
            "wxa_async.calls", unit="{call}", description="Endpoint calls, by outcome")
        self.retries = meter.create_counter(
            "wxa_async.retries", unit="{retry}", description="Retried attempts")
        self.errors = meter.create_counter(
            "wxa_async.errors", unit="{error}",
            description="Failed calls, by errcode (or error type when there is none)")
        self.duration = meter.create_histogram(
            "wxa_async.call.duration", unit="s", description="Call duration, retries included")


_otel: _Otel | None = None


def enable_opentelemetry(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Trace every call and count calls, retries and errors, for every client in the
    process. The providers default to OpenTelemetry's global ones (configured by the
    application, as OpenTelemetry libraries expect). Needs the ``otel`` extra."""
    global _otel
    require_extra("OpenTelemetry tracing", "otel")
    _otel = _Otel(tracer_provider, meter_provider)


def disable_opentelemetry() -> None:
    """Stop tracing and counting (log records are unaffected)."""
    global _otel
    _otel = None


def _errcode(exc: BaseException) -> int | None:
    return exc.errcode if isinstance(exc, WxaApiError) else None


class CallProbe:
    """What one call reports while it runs; made by :func:`probe`, used as a context
    manager around the whole call (all attempts)."""

    __slots__ = ("_otel", "_span", "_token", "appid", "attempt", "endpoint", "started")

    def __init__(self, endpoint: str, appid: str, otel: _Otel | None) -> None:
        self.endpoint = endpoint
        self.appid = appid
        self.attempt = 1
        self._otel = otel
        self._span: Any = None
        self._token: Any = None
        self.started = 0.0

    def _extra(self, errcode: int | None, outcome: str) -> dict[str, Any]:
        return {"wxa_appid": self.appid, "wxa_endpoint": self.endpoint,
                "wxa_attempt": self.attempt, "wxa_errcode": errcode,
                "wxa_elapsed": round(time.perf_counter() - self.started, 6),
                "wxa_outcome": outcome}

    def __enter__(self) -> CallProbe:
        self.started = time.perf_counter()
        if self._otel is not None:
            self._span = self._otel.tracer.start_span(
                f"wxa_async {self.endpoint}",
                kind=self._otel.trace.SpanKind.CLIENT,
                attributes={"wxa.endpoint": self.endpoint, "wxa.appid": self.appid},
            )
            # The current span while the call runs: an instrumented HTTP library's
            # spans become its children.
            self._token = self._otel.context.attach(
                self._otel.trace.set_span_in_context(self._span))
        return self

    def retry(self, exc: BaseException, delay: float) -> None:
        """Attempt :attr:`attempt` failed with ``exc``; the next starts in ``delay`` s."""
        errcode = _errcode(exc)
        error_type = type(exc).__name__
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                "retrying %s for %s in %.2f s after %s (attempt %d failed)",
                self.endpoint, self.appid or "the component", delay,
                error_type if errcode is None else f"errcode {errcode}", self.attempt,
                extra=self._extra(errcode, "retry"),
            )
        if self._otel is not None:
            attributes: dict[str, Any] = {
                "wxa.attempt": self.attempt, "wxa.delay": delay, "error.type": error_type}
            if errcode is not None:
                attributes["wxa.errcode"] = errcode
            self._span.add_event("retry", attributes)
            self._otel.retries.add(1, {"wxa.endpoint": self.endpoint, "error.type": error_type})
        self.attempt += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        errcode = None if exc is None else _errcode(exc)
        if exc is None:
            outcome = "ok"
        elif isinstance(exc, Exception):
            outcome = "error"
        else:
            outcome = "cancelled"  # CancelledError, KeyboardInterrupt: not the call's fault
        if _log.isEnabledFor(logging.DEBUG):
            extra = self._extra(errcode, outcome)
            _log.debug(
                "%s for %s: %s after %d attempt(s) in %.3f s%s", self.endpoint,
                self.appid or "the component", outcome, self.attempt, extra["wxa_elapsed"],
                "" if exc is None else f" ({type(exc).__name__}"
                f"{'' if errcode is None else f', errcode {errcode}'})",
                extra=extra,
            )
        otel = self._otel
        if otel is None:
            return
        span = self._span
        otel.context.detach(self._token)
        span.set_attribute("wxa.attempts", self.attempt)
        labels: dict[str, Any] = {"wxa.endpoint": self.endpoint, "wxa.outcome": outcome}
        if exc is not None and outcome == "error":
            error_type = type(exc).__name__
            span.set_attribute("error.type", error_type)
            if errcode is not None:
                span.set_attribute("wxa.errcode", errcode)
            span.set_status(otel.trace.Status(otel.trace.StatusCode.ERROR, str(exc)))
            otel.errors.add(1, {"wxa.endpoint": self.endpoint,
                                "wxa.errcode": errcode if errcode is not None else error_type})
        otel.calls.add(1, labels)
        otel.duration.record(time.perf_counter() - self.started, labels)
        span.end()


def probe(endpoint: str, appid: str) -> CallProbe | None:
    """A probe for one call, or None when nothing listens (the common, free case)."""
    otel = _otel
    if otel is None and not _log.isEnabledFor(logging.INFO):
        return None
    return CallProbe(endpoint, appid, otel)
