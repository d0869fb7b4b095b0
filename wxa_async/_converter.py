"""The one cattrs converter: request models to wire dicts, wire dicts to response models.

Kept apart from the models (so they stay plain attrs classes) and tuned for the hot
path: ``detailed_validation`` is off, and a failure of any kind is turned into a single
:class:`WxaDecodeError` by :func:`decode_response`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from .errors import WxaDecodeError
from .models import WxaRequest, WxaResponse

__all__ = ["decode_response", "dumps", "encode_request"]

R = TypeVar("R", bound=WxaResponse)

converter = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)


def _structure_int(value: Any, _: type) -> int:
    # The service sends some ids as strings ("auditid": "1234567") and ints elsewhere.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise ValueError(f"expected a number, got {type(value).__name__}")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _structure_bool(value: Any, _: type) -> bool:
    # Registered on its own: bool is an int subclass and would reach _structure_int.
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return bool(int(value))
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"expected a boolean, got {type(value).__name__}")


converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)
converter.register_structure_hook(str, _structure_str)

# cattrs alone builds a list from any iterable ("index" -> ['i', 'n', ...]) and a class
# from anything supporting `in` (a string, a list). A wrong shape must be an error.
_Hook = Callable[[Any, Any], Any]


def _list_hook(cls: Any) -> _Hook:
    args = get_args(cls)
    item_type = args[0] if args else Any
    structure_item = converter.get_structure_hook(item_type)

    def structure(value: Any, _: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        return [structure_item(item, item_type) for item in value]

    return structure


def _wire_readers(cls: Any) -> list[tuple[str, tuple[str, ...], Callable[[Any], Any]]]:
    # Response fields whose metadata says how the service spells them ("aliases") or
    # how to read the wire value ("read", e.g. a "|"-joined list).
    readers = []
    for field in attrs.fields(cls):
        aliases = tuple(field.metadata.get("aliases", ()))
        read = field.metadata.get("read")
        if aliases or read is not None:
            readers.append((field.name, aliases, read or (lambda value: value)))
    return readers


def _object_hook(cls: Any) -> _Hook:
    structure_fields = make_dict_structure_fn(cls, converter)
    readers = _wire_readers(cls)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {cls.__name__}, got {type(value).__name__}")
        if readers:
            value = dict(value)
            for name, aliases, read in readers:
                for key in (name, *aliases):
                    if key in value:
                        value[name] = read(value.pop(key))
                        break
        return structure_fields(value, cls)

    return structure


def _is_list(cls: Any) -> bool:
    return cls is list or get_origin(cls) is list


converter.register_structure_hook_factory(_is_list, _list_hook)
converter.register_structure_hook_factory(attrs.has, _object_hook)


def _drop_nulls(value: Any) -> Any:
    # A null where the model has a default means "absent": let the default apply.
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def decode_response(
    payload: Any, cls: type[R], endpoint: str, *, may_hold_nulls: bool = True
) -> R:
    """Build ``cls`` from a decoded JSON object; any mismatch is a WxaDecodeError.

    ``may_hold_nulls=False`` (the body has no ``null`` at all) skips the copy that drops
    them: most answers have none, and the copy is a tenth of the client's per-call cost.
    """
    if not isinstance(payload, dict):
        raise WxaDecodeError(
            f"expected a JSON object, got {type(payload).__name__}", endpoint=endpoint
        )
    try:
        # Inside the try: absurdly nested JSON makes _drop_nulls raise RecursionError too.
        fields = _drop_nulls(payload) if may_hold_nulls else payload
        if "raw" in fields:  # the service's own "raw", if any, must not clash with ours
            fields = {key: value for key, value in fields.items() if key != "raw"}
        result = converter.structure(fields, cls)
    except Exception as exc:  # cattrs raises many kinds; the caller sees one.
        raise WxaDecodeError(
            f"answer does not fit {cls.__name__}: {type(exc).__name__}: {exc}"[:300],
            endpoint=endpoint,
        ) from None
    result.raw = payload
    return result


def encode_request(request: WxaRequest) -> dict[str, Any]:
    """The wire fields of ``request``, in declaration order.

    Fields the caller did not give (None) are omitted, never sent as null. A field's
    metadata can say more: ``omit_empty`` leaves out an empty list, ``wire`` converts
    the value (the service takes some numbers as strings)."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(request)):  # type: ignore[arg-type]
        value = getattr(request, field.name)
        if value is None or (not value and field.metadata.get("omit_empty")):
            continue
        if isinstance(value, tuple):
            value = [
                {k: v for k, v in attrs.asdict(item).items() if v is not None}
                if attrs.has(type(item))
                else item
                for item in value
            ]
        wire = field.metadata.get("wire")
        out[field.name] = value if wire is None else wire(value)
    return out


def dumps(payload: Any) -> bytes:
    """JSON as the service wants it: UTF-8 text, not ``\\u`` escapes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
