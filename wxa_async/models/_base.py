"""Base classes of every model and the validators request models share.

Request classes are frozen attrs classes whose validators enforce WeChat's documented
limits, so bad input raises :class:`~wxa_async.WxaValidationError` before anything is
sent. Their field names are the wire names. Response classes mirror the JSON answers;
every field has a default because the service omits fields freely, and ``raw`` keeps
the whole decoded answer so a field the model does not know stays reachable.

How models become JSON and back lives in ``wxa_async._converter``, not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ..errors import WxaValidationError

__all__ = ["NoArguments", "WxaRequest", "WxaResponse"]

_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _fail(attribute: attrs.Attribute[Any], problem: str) -> WxaValidationError:
    # The field's metadata may name the errcode the service answers for it.
    return WxaValidationError(
        f"{attribute.name}: {problem}", field=attribute.name,
        errcode=attribute.metadata.get("errcode"),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(low: int, high: int | None = None, *, optional: bool = False) -> _Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not _is_int(value):
            raise _fail(attribute, f"must be an integer, got {type(value).__name__}")
        if value < low or (high is not None and value > high):
            bounds = f"{low} to {high}" if high is not None else f"at least {low}"
            raise _fail(attribute, f"must be {bounds}, got {value}")

    return check


def _encodable(value: str) -> bool:
    # A lone surrogate ("\ud800") is a valid str but not UTF-8: it would fail only when the
    # request is encoded, as a bare UnicodeEncodeError. Reject it here, before sending.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(
    max_len: int | None = None, *, nonempty: bool = False, optional: bool = False
) -> _Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise _fail(attribute, f"must be a string, got {type(value).__name__}")
        if not _encodable(value):
            raise _fail(attribute, "must be valid Unicode (it holds a lone surrogate)")
        if nonempty and not value.strip():
            raise _fail(attribute, "must not be empty")
        if max_len is not None and len(value) > max_len:
            raise _fail(attribute, f"must be at most {max_len} characters, got {len(value)}")

    return check


def _one_of(*allowed: object) -> _Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        # `True == 1` and `1.0 == 1` in Python: a bool or a float is never a valid choice,
        # so the type must match as well as the value (str/int subclasses such as enums pass).
        if isinstance(value, bool) or not any(
            isinstance(value, type(choice)) and value == choice for choice in allowed
        ):
            choices = ", ".join(map(repr, allowed))
            raise _fail(attribute, f"must be one of {choices}, got {value!r}")

    return check


def _check_tags(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise _fail(attribute, f"must be a string, got {type(value).__name__}")
    if not _encodable(value):
        raise _fail(attribute, "must be valid Unicode (it holds a lone surrogate)")
    tags = value.split()
    if len(tags) > 10:
        raise _fail(attribute, f"at most 10 space-separated tags, got {len(tags)}")
    for tag in tags:
        if len(tag) > 20:
            raise _fail(attribute, f"each tag at most 20 characters, {tag!r} has {len(tag)}")


def _ext_json(value: str | Mapping[str, Any]) -> str:
    """A dict is serialised (UTF-8, no ``\\u`` escapes); a string passes unchanged."""
    if isinstance(value, Mapping):
        try:
            value = json.dumps(
                value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            )
        except (TypeError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise WxaValidationError(
                f"ext_json: cannot be serialised to JSON: {reason}", field="ext_json"
            ) from None
    if isinstance(value, str):
        if not _encodable(value):
            raise WxaValidationError(
                "ext_json: must be valid Unicode (it holds a lone surrogate)", field="ext_json"
            )
        return value
    raise WxaValidationError(
        f"ext_json: must be a dict or a JSON string, got {type(value).__name__}",
        field="ext_json",
    )


def _string_list(value: Any, name: str, *, nonempty: bool = False) -> tuple[str, ...]:
    """``value`` as a tuple of strings; ``name`` is the field for the error message."""
    # A dict is iterable too, but its keys are not the list the caller meant.
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise WxaValidationError(
            f"{name}: must be a list of strings, got {type(value).__name__}", field=name
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise WxaValidationError(
                f"{name}: entries must be strings, got {type(item).__name__}", field=name
            )
        if not _encodable(item):
            raise WxaValidationError(f"{name}: entries must be valid Unicode", field=name)
        if nonempty and not item.strip():
            raise WxaValidationError(f"{name}: entries must not be empty", field=name)
    return items


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return _string_list(value, "debug_url")


def _int_list(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise WxaValidationError(
            f"{name}: must be a list of integers, got {type(value).__name__}", field=name
        )
    items = tuple(value)
    for item in items:
        if not _is_int(item) or item < 0:
            raise WxaValidationError(
                f"{name}: entries must be non-negative integers, got {item!r}", field=name
            )
    return items


def _flag(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An optional JSON boolean: True, False or None (absent); 1 and "true" are not."""
    if value is not None and not isinstance(value, bool):
        raise _fail(attribute, f"must be True or False, got {type(value).__name__}")


def _wire_object(value: Any) -> Any:
    """A nested model (or a list of them) as the JSON object the service wants:
    tuples become lists and absent (None) fields are left out, at every depth."""
    if attrs.has(type(value)):
        value = attrs.asdict(value, recurse=True)
    if isinstance(value, dict):
        return {k: _wire_object(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_wire_object(v) for v in value]
    return value


_M = TypeVar("_M")


def _build(cls: type[_M], value: Any, name: str, errcode: int | None = None) -> _M:
    """A nested request object from a model instance or a dict of its wire fields.

    A dict with a key the model does not know, or without a required one, is refused
    here, so a typo never reaches the service. Another model instance (an answer's,
    read back to be sent again) is taken field by field."""
    field = name.split("[", 1)[0]
    if isinstance(value, cls):
        return value
    if attrs.has(type(value)):
        value = {k: v for k, v in attrs.asdict(value, recurse=False).items()
                 if k != "raw" and v is not None}
    if not isinstance(value, Mapping):
        raise WxaValidationError(
            f"{name}: must be a dict or {cls.__name__}, got {type(value).__name__}",
            field=field, errcode=errcode,
        )
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    unknown = sorted(map(str, set(value) - set(fields)))
    if unknown:
        raise WxaValidationError(
            f"{name}: unknown fields {unknown}", field=field, errcode=errcode
        )
    missing = [n for n, f in fields.items()
               if f.init and f.default is attrs.NOTHING and n not in value]
    if missing:
        raise WxaValidationError(
            f"{name}: {', '.join(missing)} required", field=field, errcode=errcode
        )
    try:
        return cls(**value)
    except WxaValidationError as exc:
        if exc.errcode is not None:
            raise
        # A nested field at fault is reported as the enclosing one (and answers its
        # errcode), since that is the field the caller gave.
        raise WxaValidationError(f"{name}.{exc}", field=field, errcode=errcode) from None


def _build_list(
    cls: type[_M], value: Any, name: str, errcode: int | None = None
) -> tuple[_M, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise WxaValidationError(
            f"{name}: must be a list, got {type(value).__name__}",
            field=name.split("[", 1)[0], errcode=errcode,
        )
    return tuple(
        _build(cls, item, f"{name}[{index}]", errcode) for index, item in enumerate(value)
    )


class WxaRequest:
    """Marker base of every request model."""

    __slots__ = ()


@attrs.frozen
class NoArguments(WxaRequest):
    """The request of an endpoint that takes no arguments."""



@attrs.define
class WxaResponse:
    """An answer with ``errcode`` 0. ``raw`` is the whole decoded JSON object."""

    errcode: int = 0
    errmsg: str = "ok"
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False, kw_only=True)


