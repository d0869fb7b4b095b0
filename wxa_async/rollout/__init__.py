"""Rollouts: release one template version to many mini programs, durably.

See the rollouts guide (``docs/rollouts.md``). Needs the ``rollout`` extra
(SQLAlchemy + aiosqlite), and ``postgresql`` for a PostgreSQL store.
"""

from ..errors import WxaStoreError
from ._options import Clock, RolloutOptions, SystemClock
from ._plan import ExtJson, HealthCheck, ReleasePolicy, RolloutPlan, SubmitOptions, load_plan
from ._report import report_text
from ._rollout import ProgressHook, Rollout
from ._rows import AppRow, Page, RolloutSummary, TransitionRow
from ._states import TERMINAL, AppStatus, RolloutState
from ._store import RolloutStore

__all__ = [
    "TERMINAL",
    "AppRow",
    "AppStatus",
    "Clock",
    "ExtJson",
    "HealthCheck",
    "Page",
    "ProgressHook",
    "ReleasePolicy",
    "Rollout",
    "RolloutOptions",
    "RolloutPlan",
    "RolloutState",
    "RolloutStore",
    "RolloutSummary",
    "SubmitOptions",
    "SystemClock",
    "TransitionRow",
    "WxaStoreError",
    "load_plan",
    "report_text",
]
