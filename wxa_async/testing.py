"""Test helpers for users of wxa_async: fake transports and the emulator."""

from ._emulator import (
    Answer,
    AppState,
    Audit,
    AuditPolicy,
    AuditStatus,
    CodeVersion,
    Emulator,
    Fault,
    FaultKind,
    Faults,
    GrayPlan,
    InjectedFault,
    Limits,
    Push,
    PushTarget,
    VirtualClock,
)
from ._emulator_http import create_asgi_app, running_server
from ._fake import FakeTransport
from ._mock import Handler, MockTransport
from ._transport import BytesResponse, HttpRequest

__all__ = [
    "Answer",
    "AppState",
    "Audit",
    "AuditPolicy",
    "AuditStatus",
    "BytesResponse",
    "CodeVersion",
    "Emulator",
    "FakeTransport",
    "Fault",
    "FaultKind",
    "Faults",
    "GrayPlan",
    "Handler",
    "HttpRequest",
    "InjectedFault",
    "Limits",
    "MockTransport",
    "Push",
    "PushTarget",
    "VirtualClock",
    "create_asgi_app",
    "running_server",
]
