"""Typed push events: audit results (WeChat's 获取审核结果) and the component callbacks.

:func:`parse_event` maps decrypted push XML onto frozen attrs classes with snake_case
fields. A well-formed event it does not know becomes a :class:`GenericEvent` that keeps
every field; a known event missing a field it needs, or with a non-integer time, raises
:class:`~wxa_async.WxaXmlError`. Secrets (the verify ticket, authorization and pre-auth
codes) are left out of every ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar, cast

import attrs
from attrs import AttrsInstance

from ..errors import WxaXmlError
from ._xml import DEFAULT_MAX_BODY_BYTES, parse_xml

# The authorizer's appid from the callback URL (WeChat fills ``$APPID$`` in the
# message-and-event URL); set by the callback handler, never read from the XML.
_FROM_URL = {"from_url": True}


def _url_appid() -> Any:
    return attrs.field(default=None, metadata=_FROM_URL)

__all__ = [
    "AuditDelayEvent",
    "AuditFailEvent",
    "AuditSuccessEvent",
    "AuthorizedEvent",
    "ComponentVerifyTicketEvent",
    "Event",
    "GenericEvent",
    "UnauthorizedEvent",
    "UpdateAuthorizedEvent",
    "parse_event",
]


@attrs.frozen(kw_only=True)
class AuditSuccessEvent:
    """``weapp_audit_success``: the submitted version passed audit.

    ``to_user_name`` is the mini program's original id (``gh_...``), not its appid;
    ``authorizer_appid`` is the appid from the callback URL (None without one)."""

    to_user_name: str
    from_user_name: str
    create_time: int
    succ_time: int
    authorizer_appid: str | None = _url_appid()


@attrs.frozen(kw_only=True)
class AuditFailEvent:
    """``weapp_audit_fail``: the audit rejected the version. ``screen_shot`` holds the
    media ids of the optional ``|``-separated ScreenShot field."""

    to_user_name: str
    from_user_name: str
    create_time: int
    reason: str
    fail_time: int
    screen_shot: tuple[str, ...] = ()
    authorizer_appid: str | None = _url_appid()


@attrs.frozen(kw_only=True)
class AuditDelayEvent:
    """``weapp_audit_delay``: the audit takes longer than usual. It is not the outcome:
    a ``weapp_audit_success`` or ``weapp_audit_fail`` push follows when the audit ends."""

    to_user_name: str
    from_user_name: str
    create_time: int
    reason: str
    delay_time: int
    authorizer_appid: str | None = _url_appid()


@attrs.frozen(kw_only=True)
class ComponentVerifyTicketEvent:
    """InfoType ``component_verify_ticket``, pushed every ten minutes. Hand it to the
    token provider with its time, so that a late or repeated push of an older ticket
    never replaces a newer one: ``await provider.set_verify_ticket(
    event.component_verify_ticket, create_time=event.create_time)``."""

    app_id: str
    create_time: int
    component_verify_ticket: str = attrs.field(repr=False)
    authorizer_appid: str | None = _url_appid()


@attrs.frozen(kw_only=True)
class _AuthorizationGrant:
    """What ``authorized`` and ``updateauthorized`` both carry; the code stays out of
    repr."""

    app_id: str
    create_time: int
    authorizer_appid: str
    authorization_code: str = attrs.field(repr=False)
    authorization_code_expired_time: int
    pre_auth_code: str = attrs.field(default="", repr=False)  # absent in some pushes


@attrs.frozen(kw_only=True)
class AuthorizedEvent(_AuthorizationGrant):
    """InfoType ``authorized``: a mini program authorized the platform."""


@attrs.frozen(kw_only=True)
class UpdateAuthorizedEvent(_AuthorizationGrant):
    """InfoType ``updateauthorized``: the authorizer changed the granted permissions."""


@attrs.frozen(kw_only=True)
class UnauthorizedEvent:
    """InfoType ``unauthorized``: the authorizer revoked the platform's authorization."""

    app_id: str
    create_time: int
    authorizer_appid: str


def _field_names(fields: Mapping[str, Any]) -> str:
    # Unknown events may carry secrets we cannot recognise: show only the tag names.
    return f"<{len(fields)} fields: {', '.join(sorted(fields))}>"


@attrs.frozen(kw_only=True)
class GenericEvent:
    """Any other well-formed push. ``fields`` maps each XML tag to its value as parsed
    (``str``, ``None`` for an empty element, ``dict`` nested, ``list`` repeated);
    ``msg_type`` / ``event`` / ``info_type`` repeat the routing fields when present.
    Its ``repr`` shows the tag names only."""

    msg_type: str | None
    event: str | None
    info_type: str | None
    fields: Mapping[str, Any] = attrs.field(repr=_field_names, hash=False)
    authorizer_appid: str | None = _url_appid()


Event: TypeAlias = (
    AuditSuccessEvent
    | AuditFailEvent
    | AuditDelayEvent
    | ComponentVerifyTicketEvent
    | AuthorizedEvent
    | UpdateAuthorizedEvent
    | UnauthorizedEvent
    | GenericEvent
)


_Known = TypeVar("_Known", bound=AttrsInstance)


class _Fields:
    """Typed reads from the parsed XML, naming the event kind in every error."""

    def __init__(self, fields: Mapping[str, Any], kind: str) -> None:
        self._fields = fields
        self._kind = kind

    def text(self, tag: str, *, required: bool = True) -> str:
        if tag not in self._fields:
            if required:
                raise WxaXmlError(f"{self._kind} event lacks {tag}")
            return ""
        value = self._fields[tag]
        if value is None:
            return ""
        if not isinstance(value, str):
            raise WxaXmlError(f"{self._kind} event: {tag} is not a text element")
        return value

    def time(self, tag: str) -> int:
        value = self.text(tag).strip()
        # isdigit alone accepts non-ASCII digits that int() would also read; be strict.
        if not (value.isascii() and value.isdigit()):
            raise WxaXmlError(f"{self._kind} event: {tag} is not an integer")
        return int(value)


def _routing(fields: Mapping[str, Any], tag: str) -> str | None:
    value = fields.get(tag)
    return value.strip() if isinstance(value, str) else None


def event_from_fields(fields: Mapping[str, Any]) -> Event:
    """Build the event for already-parsed push fields (see :func:`parse_event`)."""
    msg_type = _routing(fields, "MsgType")
    event = _routing(fields, "Event")
    info_type = _routing(fields, "InfoType")
    kind = (event or info_type or msg_type or "push")[:64]  # it names errors; keep short
    if msg_type == "event" and event in _AUDIT_EVENTS:
        cls = _AUDIT_EVENTS[event]
    elif msg_type is None and event is None and info_type in _COMPONENT_EVENTS:
        cls = _COMPONENT_EVENTS[info_type]
    else:
        return GenericEvent(
            msg_type=msg_type, event=event, info_type=info_type, fields=dict(fields)
        )
    return cast(Event, _build(cls, _Fields(fields, kind)))


def _tag(name: str) -> str:
    """The XML tag of a field: ``authorizer_appid`` -> ``AuthorizerAppid``."""
    return "".join(part.capitalize() for part in name.split("_"))


def _build(cls: type[_Known], f: _Fields) -> _Known:
    # Every event class is read the same way, from its own fields: an int is a time,
    # a tuple is a "|"-separated list, a field with a default may be absent.
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.metadata.get("from_url"):
            continue
        tag = _tag(field.name)
        if field.type is int:
            values[field.name] = f.time(tag)
        elif field.type is str:
            values[field.name] = f.text(tag, required=field.default is attrs.NOTHING)
        else:
            items = f.text(tag, required=False).split("|")
            values[field.name] = tuple(item for item in items if item)
    return cls(**values)


_AUDIT_EVENTS: dict[str, type[AttrsInstance]] = {
    "weapp_audit_success": AuditSuccessEvent,
    "weapp_audit_fail": AuditFailEvent,
    "weapp_audit_delay": AuditDelayEvent,
}
_COMPONENT_EVENTS: dict[str, type[AttrsInstance]] = {
    "component_verify_ticket": ComponentVerifyTicketEvent,
    "authorized": AuthorizedEvent,
    "updateauthorized": UpdateAuthorizedEvent,
    "unauthorized": UnauthorizedEvent,
}
for _cls in (*_AUDIT_EVENTS.values(), *_COMPONENT_EVENTS.values()):
    attrs.resolve_types(_cls)  # field.type becomes int / str / tuple, not a string


def parse_event(xml: str | bytes, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Event:
    """Parse decrypted push XML into its event class.

    Never raises for a well-formed push it does not know (that is a
    :class:`GenericEvent`); every bad input raises a :class:`~wxa_async.WxaXmlError`
    (a :class:`~wxa_async.WxaSignatureError`, so a :class:`~wxa_async.WxaError`).
    """
    return event_from_fields(parse_xml(xml, max_bytes=max_bytes))
