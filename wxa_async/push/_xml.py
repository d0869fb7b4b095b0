"""Hostile-input-safe XML for pushed callbacks, and the renderer for WeChat-shaped XML.

WeChat's push bodies are tiny, flat ``<xml>`` documents, so anything else is refused
early: bodies over a size limit (checked before a byte is parsed), any ``<!DOCTYPE``
(which is where entity expansion, "billion laughs" and external entities live; the
parse stops at the very start of the declaration, before a single entity is
declared), deep nesting and malformed XML. Every refusal is a :class:`WxaXmlError`,
which is a :class:`~wxa_async.WxaSignatureError`, so a callback endpoint can answer
every hostile body the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn
from xml.parsers import expat

import xmltodict

from ..errors import WxaBodyTooLargeError, WxaValidationError, WxaXmlError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "parse_xml",
    "render_event_xml",
    "to_xml",
]

DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB; a real push is well under 4 KiB
_MAX_DEPTH = 32  # events are two levels deep; the cap bounds hostile nesting
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


class _RefusedDtd(Exception):
    """Raised from inside expat to abort the parse at a DOCTYPE."""


def _refuse_dtd(*_args: object) -> NoReturn:
    raise _RefusedDtd


class _GuardedExpat:
    """Stands in for the ``expat`` module in :func:`xmltodict.parse`, so every parser it
    creates aborts at a DOCTYPE and never resolves an external entity."""

    @staticmethod
    def ParserCreate(*args: Any, **kwargs: Any) -> Any:  # expat's name
        parser = expat.ParserCreate(*args, **kwargs)
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_dtd  # xmltodict overrides; same effect
        parser.ExternalEntityRefHandler = _refuse_dtd
        return parser


def _as_bytes(data: str | bytes | bytearray | memoryview, max_bytes: int) -> bytes:
    if isinstance(data, str):
        # A str has at most as many characters as its UTF-8 form has bytes: checking
        # the length first keeps a huge string from being encoded at all.
        if len(data) > max_bytes:
            raise WxaBodyTooLargeError(f"XML body is over the {max_bytes}-byte limit")
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise WxaXmlError("XML text contains characters that are not valid Unicode") from None
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise WxaXmlError(f"XML body must be str or bytes, not {type(data).__name__}")
    if len(raw) > max_bytes:
        raise WxaBodyTooLargeError(f"XML body is over the {max_bytes}-byte limit")
    return raw


def _clean(root: dict[str, Any]) -> None:
    """Drop whitespace-only ``#text`` left by indentation, and bound the depth; walked
    with an explicit stack so hostile nesting cannot exhaust Python's recursion."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise WxaXmlError(f"XML nests deeper than {_MAX_DEPTH} levels")
        if isinstance(node, dict):
            text = node.get("#text")
            if isinstance(text, str) and not text.strip():
                del node["#text"]
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth) for child in node)


def parse_xml(
    data: str | bytes, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> dict[str, Any]:
    """Parse a WeChat push document into ``{tag: value}`` of its root's children.

    Values are ``str`` (CDATA or text, exactly as sent), ``None`` for an empty element,
    a ``dict`` for a nested element and a ``list`` for a repeated tag. Attributes are
    ignored (WeChat sends none). Raises :class:`WxaXmlError` for anything refused.
    """
    raw = _as_bytes(data, max_bytes)
    try:
        doc = xmltodict.parse(
            raw,
            expat=_GuardedExpat,
            xml_attribs=False,
            strip_whitespace=False,
            disable_entities=True,
        )
    except _RefusedDtd:
        raise WxaXmlError("XML with a DOCTYPE or entity declaration is refused") from None
    except expat.ExpatError as exc:
        # ExpatError text is a reason plus a position, never the document itself.
        raise WxaXmlError(f"malformed XML: {exc}") from None
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise WxaXmlError("malformed XML") from None
    if not isinstance(doc, dict) or len(doc) != 1:
        raise WxaXmlError("XML has no single root element")
    (body,) = doc.values()
    if body is None or (isinstance(body, str) and not body.strip()):
        return {}
    if not isinstance(body, dict):
        raise WxaXmlError("the root element has no child elements")
    _clean(body)
    return body


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: Mapping[str, str | int], *, pretty: bool = False) -> str:
    """Render ``fields`` as WeChat does: ``<xml>`` with one child per key, integers bare,
    strings in CDATA. ``pretty`` puts each child on its own line, indented two spaces.

    Raises :class:`~wxa_async.WxaValidationError` for a tag that is not a plain XML
    name, a value that is neither ``str`` nor ``int``, or a string holding characters
    XML 1.0 cannot carry.
    """
    parts = []
    for tag, value in fields.items():
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise WxaValidationError(f"not a usable XML tag name: {tag!r}")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise WxaValidationError(f"{tag}: value must be str or int")
        if isinstance(value, int):
            text = str(value)
        else:
            if _INVALID_XML_CHARS.search(value):
                raise WxaValidationError(f"{tag}: value holds characters XML cannot carry")
            text = _cdata(value)
        parts.append(f"<{tag}>{text}</{tag}>")
    if pretty:
        return "<xml>\n" + "".join(f"  {p}\n" for p in parts) + "</xml>"
    return "<xml>" + "".join(parts) + "</xml>"


# Control characters other than tab/LF/CR, lone surrogates and U+FFFE/U+FFFF.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_event_xml(fields: Mapping[str, str | int]) -> str:
    """A push event exactly in the seed's shape (section 6), e.g.::

        <xml>
          <ToUserName><![CDATA[gh_fb9688c2a4b2]]></ToUserName>
          <CreateTime>1488856741</CreateTime>
          ...
        </xml>
    """
    return to_xml(fields, pretty=True)
