"""The rows a rollout store hands out: plain attrs classes, never SQLAlchemy objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from ._states import TERMINAL, AppStatus, RolloutState

_TERMINAL = sorted(str(s) for s in TERMINAL)

__all__ = ["AppRow", "Change", "Page", "RolloutRecord", "RolloutSummary", "TransitionRow"]

@attrs.frozen
class RolloutRecord:
    """One rollout's own row."""

    id: int
    name: str
    plan: dict[str, Any]
    state: RolloutState
    approved: bool
    rollback_version: int | None
    created_at: float
    updated_at: float


@attrs.frozen
class AppRow:
    """One app's row in a rollout (every column; ``intent_ref`` parsed)."""

    appid: str
    state: AppStatus
    ext_json: str = attrs.field(repr=False)
    auditid: int | None
    submitted_at: float | None
    gray_percentage: int
    errcode: int | None
    errmsg: str | None
    retryable: bool | None
    reason: str | None
    screenshots: tuple[str, ...]
    intent: str | None
    intent_ref: dict[str, Any] | None
    intent_at: float | None
    attempts: int
    submits: int
    releases: int
    lease_owner: str | None
    lease_expires: float | None
    next_at: float | None
    hint: str | None
    updated_at: float

    def report(self) -> dict[str, Any]:
        """The row as a report line (what ``rollout report`` writes)."""
        return {
            "appid": self.appid, "state": str(self.state), "auditid": self.auditid,
            "gray_percentage": self.gray_percentage, "errcode": self.errcode,
            "errmsg": self.errmsg, "retryable": self.retryable, "reason": self.reason,
            "screenshots": "|".join(self.screenshots), "submits": self.submits,
            "releases": self.releases, "updated_at": self.updated_at,
        }


@attrs.frozen
class TransitionRow:
    """One entry of the transition log (``from_state`` None: the app was added)."""

    id: int
    appid: str
    at: float
    from_state: str | None
    to_state: str
    detail: str | None


@attrs.frozen
class RolloutSummary:
    """A rollout with its counts of apps by state."""

    name: str
    state: RolloutState
    total: int
    counts: dict[str, int]
    created_at: float
    updated_at: float
    user_version: str

    @property
    def done(self) -> int:
        """Apps in a terminal state."""
        return sum(n for s, n in self.counts.items() if s in _TERMINAL)

    @property
    def finished(self) -> bool:
        return self.done == self.total


@attrs.frozen
class Page:
    """One page of app rows and how many rows match in all."""

    rows: tuple[AppRow, ...]
    total: int


@attrs.frozen
class Change:
    """One app's compare-and-set write.

    Applied only if the app is in state ``expect`` (and leased by ``owner`` when
    given); then its state becomes ``to`` (unchanged when None), the columns in
    ``values`` are set, and, when ``release`` is true, the lease is dropped. A change of
    state is logged with ``detail``."""

    appid: str
    expect: AppStatus
    to: AppStatus | None = None
    values: Mapping[str, Any] = attrs.field(factory=dict)
    owner: str | None = None
    release: bool = False
    detail: str | None = None



def app_row(mapping: Any) -> AppRow:
    ref = mapping["intent_ref"]
    shots = mapping["screenshots"]
    return AppRow(
        appid=mapping["appid"], state=AppStatus(mapping["state"]), ext_json=mapping["ext_json"],
        auditid=mapping["auditid"], submitted_at=mapping["submitted_at"],
        gray_percentage=mapping["gray_percentage"] or 0, errcode=mapping["errcode"],
        errmsg=mapping["errmsg"], retryable=mapping["retryable"], reason=mapping["reason"],
        screenshots=tuple(s for s in (shots or "").split("|") if s),
        intent=mapping["intent"], intent_ref=json.loads(ref) if ref else None,
        intent_at=mapping["intent_at"], attempts=mapping["attempts"] or 0,
        submits=mapping["submits"] or 0, releases=mapping["releases"] or 0,
        lease_owner=mapping["lease_owner"], lease_expires=mapping["lease_expires"],
        next_at=mapping["next_at"], hint=mapping["hint"], updated_at=mapping["updated_at"],
    )


def record_of(mapping: Any) -> RolloutRecord:
    return RolloutRecord(
        id=mapping["id"], name=mapping["name"], plan=json.loads(mapping["plan"]),
        state=RolloutState(mapping["state"]), approved=bool(mapping["approved"]),
        rollback_version=mapping["rollback_version"], created_at=mapping["created_at"],
        updated_at=mapping["updated_at"],
    )


def summary_of(record: RolloutRecord, counts: dict[str, int]) -> RolloutSummary:
    return RolloutSummary(
        name=record.name, state=record.state, total=sum(counts.values()), counts=counts,
        created_at=record.created_at, updated_at=record.updated_at,
        user_version=str(record.plan.get("user_version", "")),
    )


