"""The emulator's state: virtual time, mini programs, code versions, audits, pushes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Literal, TypeAlias, Union

import attrs

from ...models import (
    AuditItem,
    Category,
    GrayReleasePlan,
)

_CST = timezone(timedelta(hours=8))  # WeChat's days and months are Beijing time
_JSON = {"Content-Type": "application/json; charset=utf-8"}
_HTML = {"Content-Type": "text/html"}
_VERSION = re.compile(r"\d+\.\d+\.\d+\Z")
_SUPPORT_VERSIONS = ("2.10.0", "2.20.0", "2.30.0", "3.0.0", "3.3.0")


#: A gray-release plan: the answer's model is the state.
GrayPlan = GrayReleasePlan


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
    """The audit ``status`` values of WeChat's docs."""

    PASSED = 0
    REJECTED = 1
    PENDING = 2
    WITHDRAWN = 3
    DELAYED = 4  # under audit for longer than usual; a pass or reject follows


@attrs.define
class Limits:
    """Quotas and lifetimes; change them on ``emulator.limits`` at any time."""

    # Platform-wide: every authorized mini program draws on it (the real 85085); a
    # calendar month, Beijing time.
    audit_submissions_per_month: int = 1000
    undo_per_day: int = 1
    undo_per_month: int = 10
    speedups_per_month: int = 1
    qrcode_rules: int = 10
    qrcode_publishes_per_month: int = 20
    token_lifetime: int = 7200
    component_token_lifetime: int = 7200
    verify_ticket_lifetime: int = 12 * 3600
    # The privacy scan after each commit (61039 until it ends); 0: done at once.
    privacy_scan_seconds: float = 0.0
    templates: int = 200  # the template library's cap (85065)
    media_lifetime: int = 3 * 86400  # ids from upload_media (85092 once expired)
    history_versions: int = 5  # versions get_history_version offers for rollback


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
    #: share of audits that are delayed: after ``delay`` they enter status 4 (with a
    #: ``weapp_audit_delay`` push) and resolve ``delayed_by`` seconds later
    delayed_rate: float = 0.0
    delayed_by: float = 86400.0
    delay_reason: str = "审核任务较多,审核时间延长"


@attrs.define
class Template:
    """A template of the platform's code-template library (or a draft, before it is
    added): its pages and the privacy keys its code uses (``privacy_keys``)."""

    template_id: int
    pages: list[str]
    privacy_keys: list[str] = attrs.field(factory=list)
    user_version: str = "1.0.0"
    user_desc: str = ""
    create_time: int = 0
    template_type: int = 0
    source_miniprogram_appid: str = "wx_source_app"
    source_miniprogram: str = "template source"
    developer: str = "developer"


@attrs.define
class CodeVersion:
    """Committed code: the trial version, and what audits and releases refer to.
    ``app_version`` numbers a release (what ``revert_code_release`` takes)."""

    template_id: int
    user_version: str
    user_desc: str
    pages: list[str]
    ext_json: str
    committed_at: int
    privacy_keys: list[str] = attrs.field(factory=list)
    app_version: int = 0


@attrs.define
class PrivacyConfig:
    """A privacy guide (用户隐私保护指引): the development or the live version."""

    owner_setting: dict[str, str]
    settings: dict[str, str]  # privacy_key -> privacy_text
    sdk_privacy_info_list: list[dict[str, object]]
    update_time: int


@attrs.define
class Media:
    """An upload: audit media (``mediaid``) or a privacy ext file."""

    media_id: str
    type: str
    filename: str
    content_type: str
    size: int
    expires_at: float


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
    delayed: bool = False  # drawn at submission: passes through status 4 first
    screenshots: tuple[str, ...] = ()

    @property
    def in_progress(self) -> bool:
        """Under audit (status 2 or 4): it may still pass or be rejected."""
        return self.status in (AuditStatus.PENDING, AuditStatus.DELAYED)


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
    privacy_scan_until: float = 0.0  # 61039 until the virtual clock passes it
    privacy_dev: PrivacyConfig | None = None
    privacy_live: PrivacyConfig | None = None
    interfaces: dict[str, tuple[int, int]] = attrs.field(factory=dict)  # name -> status, id
    next_app_version: int = 1

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

    ``xml`` is the plaintext event (as WeChat documents it for 获取审核结果). ``body``
    and ``query`` are what is POSTed: the plaintext with an empty query, or, when the
    emulator has a :class:`MessageCrypto`, the encrypted envelope with
    ``msg_signature``, ``timestamp``, ``nonce`` and ``encrypt_type``. A callable target
    gets the whole object, so it can feed ``body`` and ``query`` to its own callback
    handler."""

    appid: str
    event: str
    xml: str
    body: str
    query: Mapping[str, str]
    auditid: int | None = None


PushTarget: TypeAlias = Union[Callable[[Push], Awaitable[object]], str]  # noqa: UP007


