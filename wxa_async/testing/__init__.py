"""Test helpers for users of wxa_async: fake transports and the emulator."""

from ..push._xml import render_event_xml
from ..transports._base import BytesResponse, HttpRequest
from ._demo import DemoReport, run_demo
from ._fake import FakeTransport
from ._mock import Handler, MockTransport
from .emulator import (
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
    Latency,
    Limits,
    Load,
    Push,
    PushTarget,
    RateLimit,
    VirtualClock,
    create_asgi_app,
    running_server,
)

__all__ = [
    "Answer",
    "AppState",
    "Audit",
    "AuditPolicy",
    "AuditStatus",
    "BytesResponse",
    "CodeVersion",
    "DemoReport",
    "Emulator",
    "FakeTransport",
    "Fault",
    "FaultKind",
    "Faults",
    "GrayPlan",
    "Handler",
    "HttpRequest",
    "InjectedFault",
    "Latency",
    "Limits",
    "Load",
    "MockTransport",
    "Push",
    "PushTarget",
    "RateLimit",
    "VirtualClock",
    "create_asgi_app",
    "render_event_xml",
    "run_demo",
    "running_server",
]
