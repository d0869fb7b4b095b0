"""The per-app state machine and the rollout's own states.

Every state an app can be in is an :class:`AppStatus`; :data:`TRANSITIONS` lists the
moves the engine makes, and the store refuses any other (a bug must not silently
write an impossible history).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE",
    "AUDIT_OPEN",
    "TERMINAL",
    "TRANSITIONS",
    "AppStatus",
    "RolloutState",
]


class AppStatus(StrEnum):
    """Where one mini program is in a rollout (the value is what the store keeps)."""

    PENDING = "pending"
    COMMITTED = "committed"
    PRIVACY_CHECKED = "privacy_checked"  # the privacy scan is done (and setting applied)
    WAITING_FOR_QUOTA = "waiting_for_quota"
    UNDER_AUDIT = "under_audit"
    DELAYED = "delayed"  # the audit takes longer than usual (status 4)
    PASSED = "passed"
    REJECTED = "rejected"
    RELEASING = "releasing"
    GRAY = "gray"  # at a gray stage below 100 % (``gray_percentage`` says which)
    RELEASED = "released"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"


class RolloutState(StrEnum):
    """What the whole rollout is doing; operator actions change it."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    ROLLING_BACK = "rolling_back"
    FINISHED = "finished"  # every app reached a terminal state
    CANCELLED = "cancelled"  # cancelling finished
    ROLLED_BACK = "rolled_back"  # rolling back finished


S = AppStatus
TERMINAL = frozenset({S.RELEASED, S.REJECTED, S.FAILED, S.WITHDRAWN, S.CANCELLED,
                      S.ROLLED_BACK})
AUDIT_OPEN = frozenset({S.UNDER_AUDIT, S.DELAYED})
ACTIVE = frozenset(S) - TERMINAL

_BEFORE_AUDIT = {S.PENDING, S.COMMITTED, S.PRIVACY_CHECKED, S.WAITING_FOR_QUOTA}
_CANCELLABLE = {*_BEFORE_AUDIT, S.PASSED, *AUDIT_OPEN, S.GRAY, S.RELEASING}

TRANSITIONS: frozenset[tuple[AppStatus, AppStatus]] = frozenset({
    (S.PENDING, S.COMMITTED),
    (S.COMMITTED, S.PRIVACY_CHECKED),
    (S.PRIVACY_CHECKED, S.WAITING_FOR_QUOTA),
    (S.PRIVACY_CHECKED, S.UNDER_AUDIT),
    (S.WAITING_FOR_QUOTA, S.UNDER_AUDIT),
    (S.UNDER_AUDIT, S.DELAYED),
    *((a, b) for a in AUDIT_OPEN for b in (S.PASSED, S.REJECTED, S.WITHDRAWN)),
    (S.PASSED, S.RELEASING),
    (S.PASSED, S.GRAY),
    (S.GRAY, S.GRAY),  # the next stage
    (S.GRAY, S.RELEASING),
    (S.RELEASING, S.RELEASED),
    *((a, S.FAILED) for a in ACTIVE),
    *((a, S.CANCELLED) for a in _CANCELLABLE),
    *((a, S.ROLLED_BACK) for a in (S.RELEASED, S.GRAY, S.RELEASING)),
    # an operator retry of a failed app starts it over from the top
    (S.FAILED, S.PENDING),
})
