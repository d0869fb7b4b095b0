"""A stateful emulator of the code-management service (seed: 代码管理).

One :class:`Emulator` holds every mini program's state and answers requests exactly
as ``api.weixin.qq.com`` would: same paths, fields, errcodes. It is reached in process
through :class:`~wxa_async.testing.FakeTransport` or over HTTP through the ASGI app
of ``_emulator_http``; both call :meth:`Emulator.handle`, so the two behave alike.

Routes come from the endpoint table (``ENDPOINTS``): the handler of endpoint ``x`` is
the method ``_op_x``. Requests are parsed into the endpoint's request class, answers
are built from its response class: no path or field list is written here again.

Time is virtual (:class:`VirtualClock`): token expiry, audit delays and quotas move
only when the test advances it.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import heapq
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any, Literal, TypeAlias, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote, urlsplit

import attrs

from ._component import COMPONENT_PATHS
from ._converter import converter, dumps
from ._crypto import MessageCrypto
from ._endpoints import ENDPOINTS, EndpointSpec
from ._errors import ERRCODE_DESCRIPTIONS, WxaValidationError
from ._models import (
    AuditItem,
    AuditStatusResponse,
    Category,
    CategoryListResponse,
    CodePrivacyInfoResponse,
    ExpInfo,
    GrayReleasePlan,
    GrayReleasePlanResponse,
    LatestAuditStatusResponse,
    PageListResponse,
    QrcodeJumpFileResponse,
    QrcodeJumpRule,
    QrcodeJumpRulesResponse,
    QuotaResponse,
    ReleaseInfo,
    SubmitAuditResponse,
    SupportVersionResponse,
    UvInfo,
    UvItem,
    VersionInfoResponse,
    WxaRequest,
    WxaResponse,
)
from ._models import GrayReleasePlan as GrayPlan  # the answer's model is the state
from ._qr import qr_jpeg
from ._xml import render_event_xml

__all__ = [
    "Answer",
    "AppState",
    "Audit",
    "AuditPolicy",
    "AuditStatus",
    "CodeVersion",
    "Emulator",
    "Fault",
    "FaultKind",
    "Faults",
    "GrayPlan",
    "InjectedFault",
    "Limits",
    "Push",
    "PushTarget",
    "VirtualClock",
]

_log = logging.getLogger("wxa_async.emulator")

# The client's own paths for the component API: written once, in _component.
_COMPONENT_ENDPOINTS = {path: name for name, path in COMPONENT_PATHS.items()}
_CST = timezone(timedelta(hours=8))  # WeChat's days and months are Beijing time
_SYSTEM_OPENID = "od1P50M-fNQI5Gcq-trm4a7apsU8"  # the seed's system sender
_JSON = {"Content-Type": "application/json; charset=utf-8"}
_HTML = {"Content-Type": "text/html"}
_VERSION = re.compile(r"\d+\.\d+\.\d+\Z")
_SUPPORT_VERSIONS = ("2.10.0", "2.20.0", "2.30.0", "3.0.0", "3.3.0")


# -- time -----------------------------------------------------------------------------


class VirtualClock:
    """Seconds since the epoch that move only when told to (``advance``).

    The emulator listens: advancing resolves the audits that came due (and queues
    their push events)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def time(self) -> int:
        """The current time as WeChat's integer timestamps."""
        return int(self._now)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock cannot go back")
        self._now += seconds
        for listener in self._listeners:
            listener()

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now})"


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, _CST).strftime("%Y-%m-%d")


def _month(ts: float) -> str:
    return datetime.fromtimestamp(ts, _CST).strftime("%Y-%m")


# -- state ----------------------------------------------------------------------------


class AuditStatus(IntEnum):
    """The seed's audit ``status`` values."""

    PASSED = 0
    REJECTED = 1
    PENDING = 2
    WITHDRAWN = 3


@attrs.define
class Limits:
    """Quotas and lifetimes; change them on ``emulator.limits`` at any time."""

    audit_submissions_per_7_days: int = 1000  # platform-wide, like the real 85085
    undo_per_day: int = 1
    undo_per_month: int = 10
    speedups_per_month: int = 1
    qrcode_rules: int = 10
    qrcode_publishes_per_month: int = 20
    token_lifetime: int = 7200
    component_token_lifetime: int = 7200
    verify_ticket_lifetime: int = 12 * 3600


@attrs.define
class AuditPolicy:
    """Audits resolve by themselves ``delay`` virtual seconds after submission; each
    fails with probability ``fail_rate`` (drawn at submission from a ``seed``-ed RNG,
    so runs are reproducible). ``emulator.audit_policy = None`` (the default) leaves
    audits pending until :meth:`Emulator.finish_audit`."""

    delay: float = 3600.0
    fail_rate: float = 0.0
    reason: str = "1:账号信息不符合规范:<br>(1):包含色情因素<br>"
    seed: int = 0


@attrs.define
class CodeVersion:
    """Committed code: the trial version, and what audits and releases refer to."""

    template_id: int
    user_version: str
    user_desc: str
    pages: list[str]
    ext_json: str
    committed_at: int


@attrs.define
class Audit:
    auditid: int
    version: CodeVersion
    items: tuple[AuditItem, ...]
    submitted_at: int
    status: AuditStatus = AuditStatus.PENDING
    reason: str | None = None
    resolved_at: int | None = None
    due_at: float | None = None  # set by an AuditPolicy
    outcome: tuple[bool, str] | None = None  # (success, reason) drawn at submission
    released: bool = False


@attrs.define
class QrcodeRule:
    prefix: str
    permit_sub_rule: int
    path: str
    open_version: int
    debug_url: list[str]
    state: int = 1  # 1 unpublished, 2 published


@attrs.define
class AppState:
    """Everything the emulator knows about one mini program (inspect it in tests)."""

    appid: str
    original_id: str
    categories: list[Category]
    nickname_set: bool = True
    refresh_token: str = attrs.field(default="", repr=False)
    trial: CodeVersion | None = None
    audits: dict[int, Audit] = attrs.field(factory=dict)
    latest_auditid: int | None = None
    releases: list[CodeVersion] = attrs.field(factory=list)  # online = releases[-1]
    reverted: bool = False  # the online version came from a revert: no second revert
    released_at: int = 0
    visit_status: Literal["open", "close"] = "open"
    gray_plan: GrayPlan = attrs.field(factory=GrayPlan)
    support_version: str = "2.10.0"
    qrcode_rules: dict[str, QrcodeRule] = attrs.field(factory=dict)
    qrcode_publishes: list[float] = attrs.field(factory=list)
    qrcode_file: tuple[str, str] | None = None
    undo_times: list[float] = attrs.field(factory=list)
    speedup_times: list[float] = attrs.field(factory=list)

    @property
    def latest_audit(self) -> Audit | None:
        return None if self.latest_auditid is None else self.audits[self.latest_auditid]

    @property
    def online(self) -> CodeVersion | None:
        return self.releases[-1] if self.releases else None


# -- push events ----------------------------------------------------------------------


@attrs.frozen
class Push:
    """One push event as WeChat would deliver it.

    ``xml`` is the plaintext event (seed section 6). ``body`` and ``query`` are what is
    POSTed: the plaintext with an empty query, or, when the emulator has a
    :class:`MessageCrypto`, the encrypted envelope with ``msg_signature``,
    ``timestamp``, ``nonce`` and ``encrypt_type``. A callable target gets the whole
    object, so it can feed ``body`` and ``query`` to its own callback handler."""

    appid: str
    event: str
    xml: str
    body: str
    query: Mapping[str, str]
    auditid: int | None = None


PushTarget: TypeAlias = Union[Callable[[Push], Awaitable[object]], str]  # noqa: UP007


# -- faults ---------------------------------------------------------------------------

FaultKind: TypeAlias = Literal["busy", "http_502", "not_json", "latency", "drop", "expire_token"]
_FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
_RANDOM_KINDS: tuple[FaultKind, ...] = ("busy", "http_502", "not_json", "latency", "drop")


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
        return fault


# -- answers --------------------------------------------------------------------------


@attrs.frozen
class Answer:
    """One HTTP answer of the emulator; ``drop`` means: close without the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    drop: bool = False

    @classmethod
    def json(cls, payload: Mapping[str, Any], status: int = 200) -> Answer:
        return cls(status, _JSON, dumps(payload))


class _Reply(Exception):
    """Raised by handlers to answer an errcode; nothing has been changed."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or _errmsg(errcode)


def _errmsg(errcode: int) -> str:
    # The English gloss of the shared description table, e.g. "invalid template id".
    text = ERRCODE_DESCRIPTIONS.get(errcode, "")
    match = re.search(r"\(([^()]*)\)\s*$", text)
    return match.group(1) if match else "error"


def _error(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg or _errmsg(errcode)}


def _fault_answer(kind: FaultKind) -> Answer:
    if kind == "busy":
        return Answer.json({"errcode": -1, "errmsg": "system error"})
    if kind == "http_502":
        return Answer(502, _HTML, b"<html><body>502 Bad Gateway</body></html>")
    if kind == "not_json":
        return Answer(200, _HTML, b"<html><body>upstream error</body></html>")
    return Answer(200, _JSON, dumps(_error(-1, "system error")), drop=True)  # "drop"


def _strip(value: Any) -> Any:
    # Answers leave out absent fields (None) the way the service does.
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None and k != "raw"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _payload(response: WxaResponse) -> dict[str, Any]:
    unstructured: dict[str, Any] = converter.unstructure(response)
    return dict(_strip(unstructured))


# -- request parsing ------------------------------------------------------------------

# The errcode the service answers when a field breaks its rule (seed sections 1-16);
# any other field problem answers 47001 (malformed data).
_FIELD_ERRCODES: dict[str, dict[str, int]] = {
    "commit": {"template_id": 85014, "ext_json": 85048},
    "submit_audit": {
        "item_list": 85023, "address": 85007, "tag": 85006, "title": 85011,
        "first_class": 85008, "second_class": 85008, "third_class": 85008,
        "first_id": 85008, "second_id": 85008, "third_id": 85008,
    },
    "get_audit_status": {"auditid": 85012},
    "speedup_audit": {"auditid": 85012},
    "change_visit_status": {"action": 85022},
    "set_support_version": {"version": 85015},
    "add_qrcode_jump": {"prefix": 85066, "debug_url": 85068, "path": 85066},
    "delete_qrcode_jump": {"prefix": 85066},
    "publish_qrcode_jump": {"prefix": 85066},
    "gray_release": {"gray_percentage": 85081},
}


def _accepts_int(hint: Any) -> bool:
    if hint is int:
        return True
    if get_origin(hint) is Literal:
        return any(isinstance(arg, int) for arg in get_args(hint))
    return any(_accepts_int(arg) for arg in get_args(hint)) if get_origin(hint) in (
        Union, type(int | None)
    ) else False


def _coerce(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` limited to ``cls``'s fields, digit strings made ints where the field
    takes ints (the SDK itself sends ``"permit_sub_rule": "1"``), nested items too."""
    hints = get_type_hints(cls)
    names = {field.name for field in attrs.fields(cls)}
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name not in names:
            continue  # the service ignores fields it does not know
        hint = hints[name]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit() and _accepts_int(hint):
            value = int(value)
        elif get_origin(hint) is tuple and isinstance(value, list):
            inner = get_args(hint)[0]
            if attrs.has(inner):
                value = [_coerce(inner, v) if isinstance(v, Mapping) else v for v in value]
        out[name] = value
    return out


def _field_of(exc: WxaValidationError) -> str:
    return str(exc).split(":", 1)[0].split("[", 1)[0].strip()


def _parse_request(endpoint: EndpointSpec, data: Mapping[str, Any]) -> WxaRequest:
    cls = endpoint.request
    assert isinstance(cls, type)
    codes = _FIELD_ERRCODES.get(endpoint.name, {})
    kwargs = _coerce(cls, data)
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING and field.name not in kwargs:
            raise _Reply(codes.get(field.name, 47001), f"{field.name} missing")
    try:
        request = cls(**kwargs)
    except WxaValidationError as exc:
        field = _field_of(exc)
        if field == "item_list" and "[" in str(exc).split(":", 1)[0]:
            raise _Reply(85010, str(exc)) from None  # an item that is not an item
        raise _Reply(codes.get(field, 47001), str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise _Reply(47001, type(exc).__name__) from None
    assert isinstance(request, WxaRequest)
    return request


# -- the emulator ---------------------------------------------------------------------


@attrs.define
class _Token:
    appid: str
    expires_at: float
    kind: Literal["authorizer", "component"]


_Handler = Callable[[AppState, Any], "WxaResponse | Answer"]


class Emulator:
    """The stateful stand-in for ``api.weixin.qq.com`` (code management + tokens).

    Setup: :meth:`add_template`, :meth:`add_app`, :meth:`issue_token`,
    :meth:`set_component`; time: ``clock`` (:class:`VirtualClock`), ``audit_policy``,
    :meth:`finish_audit`; pushes: :meth:`on_push`, :meth:`set_push_crypto`,
    :meth:`flush_pushes`; faults: ``faults`` (:class:`Faults`); counters: ``calls``
    (requests by endpoint name), ``app_calls`` and ``applied`` (by ``(appid, name)``;
    ``applied`` counts mutations that took effect).
    """

    def __init__(
        self,
        clock: VirtualClock | None = None,
        seed: int = 0,
        *,
        limits: Limits | None = None,
        audit_policy: AuditPolicy | None = None,
        push_crypto: MessageCrypto | None = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.limits = limits or Limits()
        self.faults = Faults()
        self.apps: dict[str, AppState] = {}
        self.templates: dict[int, list[str]] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.app_calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.applied: collections.Counter[tuple[str, str]] = collections.Counter()
        self.pushes: list[Push] = []
        self.push_failures: list[tuple[Push, str]] = []
        self.rotate_refresh_tokens = False
        self._rng = random.Random(seed)
        self._policy: AuditPolicy | None = None
        self._policy_rng = random.Random(0)
        self.audit_policy = audit_policy
        self._crypto = push_crypto
        self._targets: list[PushTarget] = []
        self._outbox: collections.deque[Push] = collections.deque()
        self._worker: asyncio.Task[None] | None = None
        self._due: list[tuple[float, int, str, int]] = []
        self._tokens: dict[str, _Token] = {}
        self._submissions: list[float] = []
        self._next_auditid = 412345678
        self._seq = 0
        self._component: tuple[str, str, str, float] | None = None  # appid, secret, ticket, set at
        self._handlers: dict[str, tuple[EndpointSpec, _Handler]] = {
            "/" + ep.path: (ep, getattr(self, "_op_" + ep.name)) for ep in ENDPOINTS
        }
        self.clock._listeners.append(self.run_due)

    # -- setup ----------------------------------------------------------------------

    @property
    def audit_policy(self) -> AuditPolicy | None:
        return self._policy

    @audit_policy.setter
    def audit_policy(self, policy: AuditPolicy | None) -> None:
        self._policy = policy
        if policy is not None:
            self._policy_rng = random.Random(policy.seed)

    def add_template(self, template_id: int, pages: Sequence[str]) -> None:
        """Register a code template (the platform's 模板库) and its code pages."""
        self.templates[template_id] = list(pages)

    def add_app(
        self,
        appid: str,
        *,
        categories: Iterable[Category | Mapping[str, Any]] | None = None,
        nickname_set: bool = True,
        original_id: str | None = None,
        refresh_token: str | None = None,
    ) -> AppState:
        """Authorize a mini program. ``categories`` default to the seed's two examples;
        ``refresh_token`` (for ``api_authorizer_token``) defaults to a made-up one,
        readable as ``state.refresh_token``."""
        if categories is None:
            categories = [
                Category("工具", "备忘录", None, 1, 2, None),
                Category("教育", "学历教育", "高等", 3, 4, 5),
            ]
        cats = [c if isinstance(c, Category) else converter.structure(c, Category)
                for c in categories]
        digest = hashlib.sha1(appid.encode(), usedforsecurity=False).hexdigest()
        state = AppState(
            appid=appid,
            original_id=original_id or f"gh_{digest[:12]}",
            categories=cats,
            nickname_set=nickname_set,
            refresh_token=refresh_token or f"refreshtoken@@@{self._rng.getrandbits(96):024x}",
        )
        self.apps[appid] = state
        return state

    def app(self, appid: str) -> AppState:
        """The state of one mini program (KeyError if it was never added)."""
        return self.apps[appid]

    def issue_token(self, appid: str, *, lifetime: float | None = None) -> str:
        """An authorizer access token for ``appid``, valid ``lifetime`` virtual seconds
        (default ``limits.token_lifetime``)."""
        if appid not in self.apps:
            raise KeyError(f"unknown appid {appid!r}: add_app() it first")
        return self._new_token(appid, "authorizer", lifetime or self.limits.token_lifetime)

    def expire_tokens(self, appid: str | None = None) -> None:
        """Expire now every access token (of ``appid``, or all): the next call gets 42001."""
        for token in self._tokens.values():
            if appid is None or token.appid == appid:
                token.expires_at = min(token.expires_at, self.clock.now())

    def set_component(self, appid: str, secret: str, ticket: str) -> None:
        """The third-party platform credentials ``api_component_token`` accepts; the
        verify ticket counts as pushed now and expires after
        ``limits.verify_ticket_lifetime``."""
        self._component = (appid, secret, ticket, self.clock.now())

    def qrcode_publish_quota(self, appid: str) -> int:
        """Publishes of QR-code jump rules left this month."""
        month = _month(self.clock.now())
        used = sum(1 for t in self.apps[appid].qrcode_publishes if _month(t) == month)
        return max(self.limits.qrcode_publishes_per_month - used, 0)

    def stats(self) -> dict[str, Any]:
        """Counters in plain data, for reports (soak tests, benchmarks, the demo)."""
        applied: collections.Counter[str] = collections.Counter()
        for (_, name), count in self.applied.items():
            applied[name] += count
        return {
            "calls": dict(self.calls),
            "applied": dict(applied),
            "faults": dict(self.faults.injected),
            "pushes": len(self.pushes),
            "push_failures": len(self.push_failures),
        }

    # -- audits and pushes ------------------------------------------------------------

    def finish_audit(
        self, appid: str, *, success: bool = True, reason: str | None = None
    ) -> Audit:
        """Resolve ``appid``'s pending audit now and queue its push event (delivered in
        the background; ``await flush_pushes()`` to wait for it)."""
        audit = self.apps[appid].latest_audit
        if audit is None or audit.status != AuditStatus.PENDING:
            raise ValueError(f"{appid} has no audit pending")
        self._resolve(self.apps[appid], audit, success, reason or AuditPolicy().reason)
        return audit

    def run_due(self) -> None:
        """Resolve every audit whose policy delay has passed on the virtual clock."""
        now = self.clock.now()
        while self._due and self._due[0][0] <= now:
            due_at, _, appid, auditid = heapq.heappop(self._due)
            audit = self.apps[appid].audits[auditid]
            if audit.status == AuditStatus.PENDING and audit.due_at == due_at and audit.outcome:
                self._resolve(self.apps[appid], audit, *audit.outcome)

    async def advance(self, seconds: float) -> None:
        """Advance the clock, resolve what came due and wait for the pushes."""
        self.clock.advance(seconds)
        await self.flush_pushes()

    def on_push(self, target: PushTarget) -> None:
        """Deliver push events to ``target``: an async callable taking a :class:`Push`,
        or an ``http://`` URL on loopback that gets the POST WeChat would send."""
        if isinstance(target, str):
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https") or parts.hostname not in (
                "127.0.0.1", "localhost", "::1",
            ):
                raise WxaValidationError("push URLs must be http(s) on loopback")
        elif not callable(target):
            raise WxaValidationError("a push target is an async callable or a URL")
        self._targets.append(target)

    def set_push_crypto(self, crypto: MessageCrypto | None) -> None:
        """Encrypt pushes as WeChat does in 安全模式 (None: plaintext XML)."""
        self._crypto = crypto

    async def flush_pushes(self) -> None:
        """Wait until every queued push event has been delivered."""
        loop = asyncio.get_running_loop()
        while True:
            worker = self._worker
            if worker is not None and not worker.done() and worker.get_loop() is loop:
                await asyncio.shield(worker)
            elif self._outbox:
                self._worker = loop.create_task(self._drain())
            else:
                return

    async def aclose(self) -> None:
        """Deliver what is queued; the emulator stays usable."""
        await self.flush_pushes()

    def _resolve(self, app: AppState, audit: Audit, success: bool, reason: str) -> None:
        now = self.clock.time()
        audit.resolved_at = now
        audit.status = AuditStatus.PASSED if success else AuditStatus.REJECTED
        audit.reason = None if success else reason
        fields: dict[str, str | int] = {
            "ToUserName": app.original_id,
            "FromUserName": _SYSTEM_OPENID,
            "CreateTime": now,
            "MsgType": "event",
        }
        if success:
            fields |= {"Event": "weapp_audit_success", "SuccTime": now}
        else:
            fields |= {"Event": "weapp_audit_fail", "Reason": reason, "FailTime": now}
        self._queue_push(app, str(fields["Event"]), render_event_xml(fields), audit.auditid)

    def _queue_push(self, app: AppState, event: str, xml: str, auditid: int | None) -> None:
        body, query = xml, dict[str, str]()
        if self._crypto is not None:
            nonce = f"{self._rng.getrandbits(40):010x}"
            body, query = self._crypto.build_push(
                xml, to_user_name=app.original_id, timestamp=self.clock.time(), nonce=nonce
            )
        push = Push(app.appid, event, xml, body, query, auditid)
        self.pushes.append(push)
        if not self._targets:
            return
        self._outbox.append(push)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop now: delivered by the next flush_pushes()
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not loop:
            self._worker = loop.create_task(self._drain())

    async def _drain(self) -> None:
        # One worker delivers in order; a failing target never stops the others.
        client = None
        try:
            while self._outbox:
                push = self._outbox.popleft()
                for target in list(self._targets):
                    try:
                        if isinstance(target, str):
                            if client is None:
                                import httpx

                                client = httpx.AsyncClient(timeout=5.0)
                            response = await client.post(
                                target, params=dict(push.query), content=push.body.encode(),
                                headers={"Content-Type": "text/xml; charset=utf-8"},
                            )
                            if response.status_code >= 300:
                                raise RuntimeError(f"HTTP {response.status_code}")
                        else:
                            await target(push)
                    except Exception as exc:
                        self.push_failures.append((push, f"{type(exc).__name__}: {exc}"[:200]))
                        _log.warning("push %s for %s failed: %s", push.event, push.appid,
                                     type(exc).__name__)
        finally:
            if client is not None:
                await client.aclose()

    # -- the one entry point ----------------------------------------------------------

    async def handle(
        self, method: str, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer:
        """Answer one HTTP request (``path`` without the query string)."""
        self.run_due()
        self._seq += 1
        route = self._handlers.get(path)
        name = route[0].name if route else _COMPONENT_ENDPOINTS.get(path)
        if name is None:
            return Answer.json({"errcode": 404, "errmsg": f"no such endpoint: {path[:100]}"}, 404)
        if method not in ("GET", "POST"):
            return Answer.json(_error(43001, "require GET or POST method"), 405)
        self.calls[name] += 1
        token = query.get("access_token") if route else query.get("component_access_token")
        owner = self._tokens.get(token) if token else None
        appid = owner.appid if owner else None
        if appid is not None:
            self.app_calls[(appid, name)] += 1
        fault = self.faults._decide(self._seq, name, appid, table=route is not None)
        if fault is not None:
            if fault.kind == "latency":
                await asyncio.sleep(fault.latency)
                fault = None
            elif fault.kind == "expire_token":
                if owner is not None:
                    owner.expires_at = min(owner.expires_at, self.clock.now())
                fault = None
            elif not fault.after_apply:
                return _fault_answer(fault.kind)
        if route is not None:
            answer = self._call(route[0], route[1], method, query, body, owner)
        else:
            answer = self._component_call(path, query, body)
        return answer if fault is None else _fault_answer(fault.kind)

    def _call(
        self, endpoint: EndpointSpec, handler: _Handler, method: str,
        query: Mapping[str, str], body: bytes, owner: _Token | None,
    ) -> Answer:
        try:
            app = self.apps[self._check_token(owner, "access_token" in query, "authorizer")]
            data = _request_data(endpoint, method, query, body)
            request = _parse_request(endpoint, data)
            result = handler(app, request)
        except _Reply as reply:
            return Answer.json(_error(reply.errcode, reply.errmsg))
        except Exception:  # a bug here must not show a traceback to the client
            _log.exception("emulator error in %s", endpoint.name)
            return Answer.json(_error(-1, "system error"))
        if not endpoint.idempotent:
            self.applied[(app.appid, endpoint.name)] += 1
        if isinstance(result, Answer):
            return result
        return Answer.json(_payload(result))

    def _check_token(self, owner: _Token | None, given: bool, kind: str) -> str:
        """The appid the token belongs to, or the errcode the service answers."""
        if not given:
            raise _Reply(41001, "access_token missing")
        if owner is None or owner.kind != kind:
            raise _Reply(40001, "invalid credential, access_token is invalid or not latest")
        if owner.expires_at <= self.clock.now():
            raise _Reply(42001, "access_token expired")
        return owner.appid

    def _new_token(self, appid: str, kind: Literal["authorizer", "component"], life: float) -> str:
        prefix = "CTOKEN" if kind == "component" else "ATOKEN"
        token = f"{prefix}_{self._rng.getrandbits(128):032x}"
        self._tokens[token] = _Token(appid, self.clock.now() + life, kind)
        return token

    # -- component tokens ---------------------------------------------------------------

    def _component_call(self, path: str, query: Mapping[str, str], body: bytes) -> Answer:
        try:
            data = _json_object(body)
            if path == COMPONENT_PATHS["api_component_token"]:
                return Answer.json(self._component_token(data))
            owner = self._tokens.get(query.get("component_access_token", ""))
            self._check_token(owner, "component_access_token" in query, "component")
            return Answer.json(self._authorizer_token(data))
        except _Reply as reply:
            return Answer.json(_error(reply.errcode, reply.errmsg))

    def _component_token(self, data: Mapping[str, Any]) -> dict[str, Any]:
        config = self._component
        appid, secret, ticket = (data.get(k) for k in (
            "component_appid", "component_appsecret", "component_verify_ticket"))
        if not all(isinstance(v, str) and v for v in (appid, secret, ticket)):
            raise _Reply(47001, "component_appid, component_appsecret and "
                                "component_verify_ticket are required")
        if config is None or appid != config[0]:
            raise _Reply(40013, "invalid appid")
        if secret != config[1]:
            raise _Reply(40125, "invalid appsecret")
        if ticket != config[2]:
            raise _Reply(61006, "component_verify_ticket is invalid")
        if self.clock.now() - config[3] > self.limits.verify_ticket_lifetime:
            raise _Reply(61005, "component_verify_ticket is expired")
        life = self.limits.component_token_lifetime
        self.applied[(appid, "api_component_token")] += 1
        return {"component_access_token": self._new_token(appid, "component", life),
                "expires_in": life}

    def _authorizer_token(self, data: Mapping[str, Any]) -> dict[str, Any]:
        config = self._component
        appid = data.get("authorizer_appid")
        refresh = data.get("authorizer_refresh_token")
        if not isinstance(appid, str) or not isinstance(refresh, str):
            raise _Reply(47001, "authorizer_appid and authorizer_refresh_token are required")
        if config is None or data.get("component_appid") != config[0]:
            raise _Reply(40013, "invalid appid")
        app = self.apps.get(appid)
        if app is None:
            raise _Reply(61003, "component is not authorized by this account")
        if refresh != app.refresh_token:
            raise _Reply(61023, "refresh_token is invalid")
        if self.rotate_refresh_tokens:
            app.refresh_token = f"refreshtoken@@@{self._rng.getrandbits(96):024x}"
        life = self.limits.token_lifetime
        self.applied[(appid, "api_authorizer_token")] += 1
        return {
            "authorizer_access_token": self._new_token(appid, "authorizer", life),
            "expires_in": life,
            "authorizer_refresh_token": app.refresh_token,
        }

    # -- code management: one handler per table entry, named _op_<endpoint name> --------

    def _op_commit(self, app: AppState, req: Any) -> WxaResponse:
        template = self.templates.get(req.template_id)
        if template is None:
            raise _Reply(85014)
        try:
            ext = json.loads(req.ext_json) if req.ext_json.strip() else {}
        except ValueError:
            raise _Reply(85048) from None
        if not isinstance(ext, dict):
            raise _Reply(85048)
        pages = ext.get("pages", template)
        ext_pages = ext.get("extPages", {})
        if not isinstance(pages, list) or not all(isinstance(p, str) for p in pages):
            raise _Reply(85013, "pages must be a list of strings")
        if not isinstance(ext_pages, dict):
            raise _Reply(85013, "extPages must be an object")
        if not pages:
            raise _Reply(85047)
        if any(page not in template for page in [*pages, *ext_pages]):
            raise _Reply(85045)
        tab_bar = ext.get("tabBar")
        if isinstance(tab_bar, dict) and any(
            not isinstance(item, dict) or not item.get("pagePath")
            for item in tab_bar.get("list", [])
        ):
            raise _Reply(85046)
        app.trial = CodeVersion(req.template_id, req.user_version, req.user_desc,
                                list(pages), req.ext_json, self.clock.time())
        return WxaResponse()

    def _op_get_qrcode(self, app: AppState, req: Any) -> Answer:
        if app.trial is None:
            raise _Reply(86001)
        path = req.path or app.trial.pages[0]
        text = (f"https://open.weixin.qq.com/sns/getexpappinfo?appid={app.appid}"
                f"&path={quote(path, safe='')}#wechat-redirect")
        image = qr_jpeg(text)
        return Answer(200, {
            "Content-Type": "image/jpeg",
            "Content-Disposition": 'attachment; filename="QRCode.jpg"',
            "Cache-Control": "no-cache, must-revalidate",
            "Content-Length": str(len(image)),
        }, image)

    def _op_get_category(self, app: AppState, req: Any) -> WxaResponse:
        return CategoryListResponse(category_list=list(app.categories))

    def _op_get_page(self, app: AppState, req: Any) -> WxaResponse:
        if app.trial is None:
            raise _Reply(86001)
        return PageListResponse(page_list=list(app.trial.pages))

    def _op_submit_audit(self, app: AppState, req: Any) -> WxaResponse:
        if not app.nickname_set:
            raise _Reply(86002)
        if app.trial is None:
            raise _Reply(85086)
        latest = app.latest_audit
        if latest is not None and latest.status == AuditStatus.PENDING:
            raise _Reply(85009)
        for item in req.item_list:
            values = attrs.astuple(item)
            if all(v is None or v == "" for v in values):
                raise _Reply(85010)
            if item.address not in app.trial.pages:
                raise _Reply(85007)
            if not _category_matches(item, app.categories):
                raise _Reply(85008)
        now = self.clock.now()
        window = [t for t in self._submissions if t > now - 7 * 86400]
        if len(window) >= self.limits.audit_submissions_per_7_days:
            raise _Reply(85085)
        self._submissions = [*window, now]
        auditid = self._next_auditid
        self._next_auditid += 1
        audit = Audit(auditid, app.trial, tuple(req.item_list), self.clock.time())
        if self._policy is not None:
            failed = self._policy_rng.random() < self._policy.fail_rate
            audit.outcome = (not failed, self._policy.reason)
            audit.due_at = now + self._policy.delay
            heapq.heappush(self._due, (audit.due_at, auditid, app.appid, auditid))
        app.audits[auditid] = audit
        app.latest_auditid = auditid
        return SubmitAuditResponse(auditid=auditid)

    def _op_get_audit_status(self, app: AppState, req: Any) -> WxaResponse:
        audit = app.audits.get(req.auditid)
        if audit is None:
            raise _Reply(85012)
        return AuditStatusResponse(status=int(audit.status), reason=audit.reason)

    def _op_get_latest_audit_status(self, app: AppState, req: Any) -> WxaResponse | Answer:
        audit = app.latest_audit
        if audit is None:
            raise _Reply(85012)
        payload = _payload(LatestAuditStatusResponse(
            status=int(audit.status), reason=audit.reason, auditid=audit.auditid))
        payload["auditid"] = str(audit.auditid)  # the service sends this id as a string
        return Answer.json(payload)

    def _op_release(self, app: AppState, req: Any) -> WxaResponse:
        audit = app.latest_audit
        if audit is None or audit.released:
            raise _Reply(85019)
        if audit.status != AuditStatus.PASSED:
            raise _Reply(85020)
        self._publish(app, audit)
        return WxaResponse()

    def _publish(self, app: AppState, audit: Audit) -> None:
        audit.released = True
        app.releases.append(audit.version)
        app.released_at = self.clock.time()
        app.reverted = False
        if app.gray_plan.status == 1:
            app.gray_plan.status = 3

    def _op_change_visit_status(self, app: AppState, req: Any) -> WxaResponse:
        if app.visit_status == req.action:
            raise _Reply(85021)
        app.visit_status = req.action
        return WxaResponse()

    def _op_revert_code_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.gray_plan.status == 1:
            raise _Reply(87011)
        if len(app.releases) < 2 or app.reverted:
            raise _Reply(87012)
        app.releases.pop()
        app.reverted = True
        app.released_at = self.clock.time()
        return WxaResponse()

    def _op_get_support_version(self, app: AppState, req: Any) -> WxaResponse:
        share = round(100 / len(_SUPPORT_VERSIONS), 2)
        items = [UvItem(percentage=share if v >= app.support_version else 0.0, version=v)
                 for v in _SUPPORT_VERSIONS]
        return SupportVersionResponse(now_version=app.support_version, uv_info=UvInfo(items))

    def _op_set_support_version(self, app: AppState, req: Any) -> WxaResponse:
        if not _VERSION.match(req.version):
            raise _Reply(85015)
        app.support_version = req.version
        return WxaResponse()

    def _op_add_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        prefix = urlsplit(req.prefix)
        if prefix.scheme not in ("http", "https") or not prefix.hostname:
            raise _Reply(85066)
        if any(not url.startswith(req.prefix) for url in req.debug_url):
            raise _Reply(85068)
        existing = req.prefix in app.qrcode_rules
        if existing and not req.is_edit:
            raise _Reply(85071)
        if not existing and len(app.qrcode_rules) >= self.limits.qrcode_rules:
            raise _Reply(85073)
        app.qrcode_rules[req.prefix] = QrcodeRule(
            req.prefix, req.permit_sub_rule, req.path, req.open_version, list(req.debug_url))
        return WxaResponse()

    def _op_get_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        rules = [QrcodeJumpRule(prefix=r.prefix, open_version=r.open_version, state=r.state,
                                permit_sub_rule=r.permit_sub_rule, path=r.path,
                                debug_url=list(r.debug_url))
                 for r in app.qrcode_rules.values()]
        return QrcodeJumpRulesResponse(
            rule_list=rules,
            qrcodejump_open=int(any(r.state == 2 for r in app.qrcode_rules.values())),
            list_size=len(rules),
            qrcodejump_pub_quota=self.qrcode_publish_quota(app.appid),
        )

    def _op_download_qrcode_jump_file(self, app: AppState, req: Any) -> WxaResponse:
        app.qrcode_file = (f"{self._rng.getrandbits(40):010x}.txt",
                           f"{self._rng.getrandbits(128):032x}")
        return QrcodeJumpFileResponse(file_name=app.qrcode_file[0],
                                      file_content=app.qrcode_file[1])

    def _op_delete_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        if app.qrcode_rules.pop(req.prefix, None) is None:
            raise _Reply(85066, "no such rule")
        return WxaResponse()

    def _op_publish_qrcode_jump(self, app: AppState, req: Any) -> WxaResponse:
        rule = app.qrcode_rules.get(req.prefix)
        if rule is None:
            raise _Reply(85066, "no such rule")
        if app.online is None:
            raise _Reply(85074)
        if self.qrcode_publish_quota(app.appid) <= 0:
            raise _Reply(45009, "monthly publish quota of QR-code jump rules reached")
        app.qrcode_publishes.append(self.clock.now())
        rule.state = 2
        return WxaResponse()

    def _op_undo_code_audit(self, app: AppState, req: Any) -> WxaResponse:
        now = self.clock.now()
        today = sum(1 for t in app.undo_times if _day(t) == _day(now))
        month = sum(1 for t in app.undo_times if _month(t) == _month(now))
        if today >= self.limits.undo_per_day or month >= self.limits.undo_per_month:
            raise _Reply(87013)
        audit = app.latest_audit
        if audit is None or audit.status != AuditStatus.PENDING:
            raise _Reply(85012, "no audit under way to withdraw")
        app.undo_times.append(now)
        audit.status = AuditStatus.WITHDRAWN
        audit.resolved_at = self.clock.time()
        return WxaResponse()

    def _op_gray_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.online is None:
            raise _Reply(85079)
        audit = app.latest_audit
        if audit is None or audit.status != AuditStatus.PASSED:
            raise _Reply(85080)
        plan = app.gray_plan
        if plan.status == 1 and req.gray_percentage <= plan.gray_percentage:
            raise _Reply(85082)
        if plan.status != 1:
            plan.create_timestamp = self.clock.time()
        plan.gray_percentage = req.gray_percentage
        plan.status = 1
        if req.gray_percentage == 100:  # everyone has it: the staged version is online
            if not audit.released:
                self._publish(app, audit)
            plan.status = 3
        return WxaResponse()

    def _op_revert_gray_release(self, app: AppState, req: Any) -> WxaResponse:
        if app.gray_plan.status == 1:
            app.gray_plan.status = 4
        return WxaResponse()

    def _op_get_gray_release_plan(self, app: AppState, req: Any) -> WxaResponse:
        plan = app.gray_plan
        return GrayReleasePlanResponse(gray_release_plan=GrayReleasePlan(
            status=plan.status, create_timestamp=plan.create_timestamp,
            gray_percentage=plan.gray_percentage))

    def _op_speedup_audit(self, app: AppState, req: Any) -> WxaResponse:
        audit = app.audits.get(req.auditid)
        if audit is None or audit.status != AuditStatus.PENDING:
            raise _Reply(85012)
        month = _month(self.clock.now())
        used = sum(1 for t in app.speedup_times if _month(t) == month)
        if used >= self.limits.speedups_per_month:
            raise _Reply(45009, "speedup quota reached")
        app.speedup_times.append(self.clock.now())
        if audit.due_at is not None:  # a policy-driven audit finishes in half the time left
            audit.due_at = self.clock.now() + (audit.due_at - self.clock.now()) / 2
            heapq.heappush(self._due, (audit.due_at, audit.auditid, app.appid, audit.auditid))
        return WxaResponse()

    def _op_query_quota(self, app: AppState, req: Any) -> WxaResponse:
        now = self.clock.now()
        used = sum(1 for t in self._submissions if t > now - 7 * 86400)
        limit = self.limits.audit_submissions_per_7_days
        month = _month(now)
        sped = sum(1 for t in app.speedup_times if _month(t) == month)
        return QuotaResponse(rest=max(limit - used, 0), limit=limit,
                             speedup_rest=max(self.limits.speedups_per_month - sped, 0),
                             speedup_limit=self.limits.speedups_per_month)

    def _op_get_code_privacy_info(self, app: AppState, req: Any) -> WxaResponse:
        if app.trial is None:
            raise _Reply(86001)
        return CodePrivacyInfoResponse()

    def _op_get_version_info(self, app: AppState, req: Any) -> WxaResponse:
        trial, online = app.trial, app.online
        return VersionInfoResponse(
            exp_info=ExpInfo(trial.committed_at, trial.user_version, trial.user_desc)
            if trial else None,
            release_info=ReleaseInfo(app.released_at, online.user_version, online.user_desc)
            if online else None,
        )

    def __repr__(self) -> str:
        return f"Emulator(apps={len(self.apps)}, now={self.clock.time()})"


def _category_matches(item: AuditItem, categories: Sequence[Category]) -> bool:
    given = {k: v for k, v in attrs.asdict(item).items()
             if k.endswith(("_class", "_id")) and v not in (None, "")}
    has_first = "first_id" in given or "first_class" in given
    has_second = "second_id" in given or "second_class" in given
    if not (has_first and has_second):
        return False
    return any(all(getattr(c, k) == v for k, v in given.items()) for c in categories)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Reply(47001, "data format error") from None
    if not isinstance(data, dict):
        raise _Reply(47001, "data format error")
    return data


def _request_data(
    endpoint: EndpointSpec, method: str, query: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    # The SDK puts a GET's fields in the query and a POST's in a JSON body; accept both.
    data = {k: v for k, v in query.items() if k != "access_token"}
    if method == "POST" or body:
        data.update(_json_object(body))
    return data
