"""Fault injection: busy answers, bad gateways, broken bodies, latency, drops."""

from __future__ import annotations

import collections
import logging
import random
from collections.abc import Iterable
from typing import Literal, TypeAlias, get_args

import attrs

# -- faults ---------------------------------------------------------------------------

FaultKind: TypeAlias = Literal["busy", "http_502", "not_json", "latency", "drop", "expire_token"]
_FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
_RANDOM_KINDS: tuple[FaultKind, ...] = ("busy", "http_502", "not_json", "latency", "drop")
_log = logging.getLogger("wxa_async.emulator")
_WHAT: dict[str, str] = {
    "busy": "answered errcode -1 (system busy)", "http_502": "answered an HTTP 502 page",
    "not_json": "answered HTML instead of JSON", "latency": "answer delayed",
    "drop": "connection closed before the body", "expire_token": "token expired first",
}


@attrs.frozen
class Fault:
    """What to inject into one answer.

    ``busy`` errcode -1; ``http_502`` an HTTP 502 page; ``not_json`` HTTP 200 with an
    HTML body; ``drop`` the connection closes before the body (in process:
    ``WxaTransportError(request_sent=True)``); ``latency`` waits ``latency`` real seconds
    and then answers normally; ``expire_token`` expires the caller's token first
    (so the call answers 42001).

    By default the fault replaces the answer *before* the request is applied: nothing
    changed. ``after_apply=True`` applies the request, then loses its answer: the
    ambiguous case a client must not repeat blindly.
    """

    kind: FaultKind
    after_apply: bool = False
    latency: float = 0.2


@attrs.frozen
class InjectedFault:
    seq: int  # the request's number among all handled requests
    endpoint: str
    appid: str | None
    kind: FaultKind
    after_apply: bool


@attrs.define
class _Rule:
    fault: Fault
    endpoint: str | None
    appid: str | None
    times: int | None


class Faults:
    """Fault injection: scheduled faults (:meth:`add`) and a seeded random rate
    (:meth:`set_rate`). ``injected`` counts what was injected by kind, ``log`` lists
    each one."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._rate = 0.0
        self._rng = random.Random(0)
        self._kinds: tuple[FaultKind, ...] = _RANDOM_KINDS
        self._endpoints: frozenset[str] | None = None
        self._after_apply_rate = 0.0
        self._latency = 0.05
        self.injected: collections.Counter[str] = collections.Counter()
        self.log: list[InjectedFault] = []

    def add(
        self,
        kind: FaultKind,
        *,
        endpoint: str | None = None,
        appid: str | None = None,
        times: int | None = 1,
        after_apply: bool = False,
        latency: float = 0.2,
    ) -> None:
        """Inject ``kind`` into the next ``times`` matching requests (``None``: all of
        them). ``endpoint`` is a table name (``"commit"``) or ``"api_component_token"``
        / ``"api_authorizer_token"``; ``None`` matches every endpoint."""
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {_FAULT_KINDS}")
        self._rules.append(_Rule(Fault(kind, after_apply, latency), endpoint, appid, times))

    def set_rate(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Iterable[FaultKind] = _RANDOM_KINDS,
        endpoints: Iterable[str] | None = None,
        after_apply_rate: float = 0.0,
        latency: float = 0.05,
    ) -> None:
        """Inject a random fault into each request with probability ``rate``.

        Kind and timing are drawn from ``random.Random(seed)``, one draw per request,
        so the same requests in the same order get the same faults. ``endpoints=None``
        means every endpoint of the table (not the component-token ones). A share
        ``after_apply_rate`` of the faults is injected after applying the request."""
        if not 0.0 <= rate <= 1.0 or not 0.0 <= after_apply_rate <= 1.0:
            raise ValueError("rates are between 0 and 1")
        chosen = tuple(kinds)
        for kind in chosen:
            if kind not in _FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        self._rate = rate
        self._rng = random.Random(seed)
        self._kinds = chosen or _RANDOM_KINDS
        self._endpoints = frozenset(endpoints) if endpoints is not None else None
        self._after_apply_rate = after_apply_rate
        self._latency = latency

    def clear(self) -> None:
        """Remove every scheduled fault and the random rate (the counters stay)."""
        self._rules.clear()
        self._rate = 0.0

    def _decide(self, seq: int, endpoint: str, appid: str | None, table: bool) -> Fault | None:
        fault: Fault | None = None
        for rule in self._rules:
            if (rule.endpoint in (None, endpoint)) and (rule.appid in (None, appid)):
                fault = rule.fault
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                break
        eligible = table if self._endpoints is None else endpoint in self._endpoints
        if fault is None and self._rate > 0 and eligible:
            # Always the same number of draws per request: reproducible sequences.
            hit = self._rng.random() < self._rate
            kind = self._rng.choice(self._kinds)
            after = self._rng.random() < self._after_apply_rate
            if hit:
                fault = Fault(kind, after, self._latency)
        if fault is not None:
            self.injected[fault.kind] += 1
            self.log.append(InjectedFault(seq, endpoint, appid, fault.kind, fault.after_apply))
            _log.info("injected fault %s on %s (appid %s): %s%s", fault.kind, endpoint, appid,
                      _WHAT[fault.kind], ", after applying the request" if fault.after_apply
                      else "")
        return fault


