"""A stateful emulator of WeChat's mini-program code-management service.

One :class:`Emulator` holds every mini program's state and answers requests exactly as
``api.weixin.qq.com`` would: same paths, fields, errcodes. It is reached in process
through :class:`~wxa_async.testing.FakeTransport` or over HTTP through
:func:`create_asgi_app` / :func:`running_server` (``python -m wxa_async.testing.emulator``
serves it); both call :meth:`Emulator.handle`, so the two behave alike.

Routes come from the endpoint tables: the handler of endpoint ``x`` is the method
``_op_x``. Requests are parsed into the endpoint's request class, answers are built from
its response class: no path or field list is written here again. Time is virtual
(:class:`VirtualClock`): token expiry, audit delays and quotas move only when the test
advances it.
"""

from ._answers import Answer
from ._faults import Fault, FaultKind, Faults, InjectedFault
from ._handlers import Emulator
from ._http import create_asgi_app, running_server
from ._load import Latency, Load, RateLimit
from ._state import (
    AppState,
    Audit,
    AuditPolicy,
    AuditStatus,
    CodeVersion,
    GrayPlan,
    Limits,
    Push,
    PushTarget,
    VirtualClock,
)

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
    "Latency",
    "Limits",
    "Load",
    "Push",
    "PushTarget",
    "RateLimit",
    "VirtualClock",
    "create_asgi_app",
    "running_server",
]
