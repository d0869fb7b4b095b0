"""The emulator's core: state, tokens, audits on the virtual clock, pushes, dispatch.

One :class:`Emulator` holds every mini program's state and answers requests exactly
as ``api.weixin.qq.com`` would: same paths, fields, errcodes. It is reached in process
through :class:`~wxa_async.testing.FakeTransport` or over HTTP through the ASGI app
of ``_http``; both call :meth:`Emulator.handle`, so the two behave alike.

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
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

from ..._converter import converter
from ..._handle import COMPONENT_ENDPOINTS, ENDPOINTS
from ...endpoints import ComponentApi, EndpointSpec
from ...errors import WxaValidationError
from ...models import (
    Category,
    WxaResponse,
)
from ...push._crypto import MessageCrypto
from ...push._xml import render_event_xml
from ._answers import (
    Answer,
    _error,
    _fault_answer,
    _json_object,
    _parse_request,
    _payload,
    _Reply,
    _request_data,
)
from ._faults import Faults
from ._load import Load
from ._state import (
    AppState,
    Audit,
    AuditPolicy,
    AuditStatus,
    Limits,
    Media,
    Push,
    PushTarget,
    Template,
    VirtualClock,
    _month,
)

_log = logging.getLogger("wxa_async.emulator")

# The component API's paths, from the same table the token provider calls.
COMPONENT_PATHS = {
    spec.name: f"/{spec.path}"
    for spec in (ComponentApi.api_component_token, ComponentApi.api_authorizer_token)
}
_COMPONENT_ENDPOINTS = {path: name for name, path in COMPONENT_PATHS.items()}
_SYSTEM_OPENID = "od1P50M-fNQI5Gcq-trm4a7apsU8"  # the sender WeChat's docs show


# -- the emulator ---------------------------------------------------------------------


@attrs.define
class _Token:
    appid: str
    expires_at: float
    kind: Literal["authorizer", "component"]


_Handler = Callable[[Any, Any], "WxaResponse | Answer"]  # (AppState | None, request)
# One path may serve several endpoints told apart by a fixed query field
# (wxa/revertcoderelease and its action=get_history_version).
_Route = tuple[dict[str, str], EndpointSpec, _Handler]


def _fixed_fields(endpoint: EndpointSpec) -> dict[str, str]:
    cls = endpoint.request
    if not attrs.has(cls):  # type: ignore[arg-type]
        return {}
    return {f.name: str(f.default) for f in attrs.fields(cls)
            if not f.init and f.default is not attrs.NOTHING}


class EmulatorCore:
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
        self.load: Load | None = None  # latency and rate limit (45011); None: instant
        self.apps: dict[str, AppState] = {}
        self.templates: dict[int, Template] = {}
        self.drafts: dict[int, Template] = {}  # keyed by draft_id
        self.media: dict[str, Media] = {}
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
        self._next_template_id = 1
        self._handlers: dict[str, list[_Route]] = {}
        for ep in (*ENDPOINTS, *COMPONENT_ENDPOINTS):
            routes = self._handlers.setdefault("/" + ep.path, [])
            routes.append((_fixed_fields(ep), ep, getattr(self, "_op_" + ep.name)))
            routes.sort(key=lambda route: -len(route[0]))  # the most specific first
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

    def add_app(
        self,
        appid: str,
        *,
        categories: Iterable[Category | Mapping[str, Any]] | None = None,
        nickname_set: bool = True,
        original_id: str | None = None,
        refresh_token: str | None = None,
    ) -> AppState:
        """Authorize a mini program. ``categories`` default to WeChat's two documented examples;
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

    def issue_component_token(self, *, lifetime: float | None = None) -> str:
        """A component access token of the platform (``set_component`` first), valid
        ``lifetime`` virtual seconds (default ``limits.component_token_lifetime``): what
        ``client.component()`` sends."""
        if self._component is None:
            raise KeyError("no platform credentials: set_component() first")
        life = lifetime or self.limits.component_token_lifetime
        return self._new_token(self._component[0], "component", life)

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
        self, appid: str, *, success: bool = True, reason: str | None = None,
        screenshots: Sequence[str] = (),
    ) -> Audit:
        """Resolve ``appid``'s audit under way now and queue its push event (delivered
        in the background; ``await flush_pushes()`` to wait for it). ``screenshots``
        are the media ids a rejection shows (the answer's ``screenshot``)."""
        audit = self.apps[appid].latest_audit
        if audit is None or not audit.in_progress:
            raise ValueError(f"{appid} has no audit pending")
        audit.screenshots = tuple(screenshots)
        self._resolve(self.apps[appid], audit, success, reason or AuditPolicy().reason)
        return audit

    def delay_audit(self, appid: str, *, reason: str | None = None) -> Audit:
        """Put ``appid``'s pending audit into status 4 (delayed) and queue the
        ``weapp_audit_delay`` push; a pass or reject still follows."""
        audit = self.apps[appid].latest_audit
        if audit is None or audit.status != AuditStatus.PENDING:
            raise ValueError(f"{appid} has no audit pending")
        self._delay(self.apps[appid], audit, reason or AuditPolicy().delay_reason)
        return audit

    def run_due(self) -> None:
        """Move every audit whose policy delay has passed on the virtual clock: to its
        result, or (a delayed one) to status 4 first."""
        now = self.clock.now()
        while self._due and self._due[0][0] <= now:
            due_at, _, appid, auditid = heapq.heappop(self._due)
            app = self.apps[appid]
            audit = app.audits[auditid]
            if not (audit.in_progress and audit.due_at == due_at and audit.outcome):
                continue
            policy = self._policy or AuditPolicy()
            if audit.delayed and audit.status == AuditStatus.PENDING:
                self._delay(app, audit, policy.delay_reason)
                audit.due_at = due_at + policy.delayed_by
                heapq.heappush(self._due, (audit.due_at, auditid, appid, auditid))
            else:
                self._resolve(app, audit, *audit.outcome)

    async def advance(self, seconds: float) -> None:
        """Advance the clock, resolve what came due and wait for the pushes."""
        self.clock.advance(seconds)
        await self.flush_pushes()

    def on_push(self, target: PushTarget) -> None:
        """Deliver push events to ``target``: an async callable taking a :class:`Push`,
        or an ``http://`` URL on loopback that gets the POST WeChat would send
        (``$APPID$`` in it replaced by the authorizer's appid, as WeChat does)."""
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

    def _delay(self, app: AppState, audit: Audit, reason: str) -> None:
        now = self.clock.time()
        audit.status = AuditStatus.DELAYED
        fields: dict[str, str | int] = {
            "ToUserName": app.original_id, "FromUserName": _SYSTEM_OPENID,
            "CreateTime": now, "MsgType": "event", "Event": "weapp_audit_delay",
            "Reason": reason, "DelayTime": now,
        }
        self._queue_push(app, "weapp_audit_delay", render_event_xml(fields), audit.auditid)

    def _queue_push(self, app: AppState, event: str, xml: str, auditid: int | None) -> None:
        body, query = xml, dict[str, str]()
        if self._crypto is not None:
            nonce = f"{self._rng.getrandbits(40):010x}"
            body, query = self._crypto.build_push(
                # The query's timestamp is when WeChat sends: the wall clock, not the
                # virtual one, so that a callback's replay window accepts it.
                xml, to_user_name=app.original_id, timestamp=int(time.time()), nonce=nonce
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
                            # WeChat puts the authorizer's appid in place of $APPID$.
                            response = await client.post(
                                target.replace("$APPID$", push.appid),
                                params=dict(push.query), content=push.body.encode(),
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
        self, method: str, path: str, query: Mapping[str, str], body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Answer one HTTP request (``path`` without the query string; ``headers`` are
        needed only by uploads, for their multipart boundary)."""
        self.run_due()
        self._seq += 1
        route = self._route(path, query)
        name = route[1].name if route else _COMPONENT_ENDPOINTS.get(path)
        if name is None:
            return Answer.json({"errcode": 404, "errmsg": f"no such endpoint: {path[:100]}"}, 404)
        if method not in ("GET", "POST"):
            return Answer.json(_error(43001, "require GET or POST method"), 405)
        if self.load is not None:
            refused = await self.load.admit(name, table=route is not None)
            if refused is not None:
                return refused
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
            answer = self._call(route[1], route[2], method, query, body, headers or {}, owner)
        else:
            answer = self._component_call(path, query, body)
        return answer if fault is None else _fault_answer(fault.kind)

    def _route(self, path: str, query: Mapping[str, str]) -> _Route | None:
        for route in self._handlers.get(path, ()):
            if all(query.get(key) == value for key, value in route[0].items()):
                return route
        return None

    def _call(
        self, endpoint: EndpointSpec, handler: _Handler, method: str,
        query: Mapping[str, str], body: bytes, headers: Mapping[str, str],
        owner: _Token | None,
    ) -> Answer:
        try:
            kind = endpoint.auth or "authorizer"
            owner_id = self._check_token(owner, "access_token" in query, kind)
            # The component handle's lines (the template library) are the platform's.
            app = self.apps[owner_id] if kind == "authorizer" else None
            data = _request_data(endpoint, method, query, body, headers)
            request = _parse_request(endpoint, data)
            result = handler(app, request)
        except _Reply as reply:
            return Answer.json(_error(reply.errcode, reply.errmsg))
        except Exception:  # a bug here must not show a traceback to the client
            _log.exception("emulator error in %s", endpoint.name)
            return Answer.json(_error(-1, "system error"))
        if not endpoint.idempotent:
            self.applied[(owner_id, endpoint.name)] += 1
        if isinstance(result, Answer):
            return result
        return Answer.json(_payload(result))

    def _undeclared_privacy(self, app: AppState) -> list[str]:
        """The privacy keys of ``app``'s code its privacy guide does not declare (the
        privacy handlers say which)."""
        raise NotImplementedError

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

    def __repr__(self) -> str:
        return f"Emulator(apps={len(self.apps)}, now={self.clock.time()})"


