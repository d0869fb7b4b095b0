"""Pushed messages: decryption and signatures, hostile-input-safe XML, typed events,
and the callback endpoint that ties them together."""

from ._callback import (
    DEFAULT_APPID_PATTERN,
    CallbackHandler,
    EventCallback,
    SeenPushStore,
    callback_asgi_app,
)
from ._crypto import MessageCrypto
from ._events import (
    AuditDelayEvent,
    AuditFailEvent,
    AuditSuccessEvent,
    AuthorizedEvent,
    ComponentVerifyTicketEvent,
    Event,
    GenericEvent,
    UnauthorizedEvent,
    UpdateAuthorizedEvent,
    parse_event,
)
from ._xml import parse_xml, to_xml

__all__ = [
    "DEFAULT_APPID_PATTERN",
    "AuditDelayEvent",
    "AuditFailEvent",
    "AuditSuccessEvent",
    "AuthorizedEvent",
    "CallbackHandler",
    "ComponentVerifyTicketEvent",
    "Event",
    "EventCallback",
    "GenericEvent",
    "MessageCrypto",
    "SeenPushStore",
    "UnauthorizedEvent",
    "UpdateAuthorizedEvent",
    "callback_asgi_app",
    "parse_event",
    "parse_xml",
    "to_xml",
]
