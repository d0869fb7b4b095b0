"""Hostile-input-safe XML for pushed callbacks, and the renderer for WeChat-shaped XML.

WeChat's push bodies are tiny, flat ``<xml>`` documents, so anything else is refused
early: bodies over a size limit (checked before a byte is parsed), any ``<!DOCTYPE``
(which is where entity expansion, "billion laughs" and external entities live; the
parse stops at the very start of the declaration, before a single entity is
declared), deep nesting, too many elements and malformed XML. Depth and element count
are checked by expat's start-element handler as the parse goes, so a hostile body is
abandoned at the first element past a limit instead of being built into a tree first.
Every refusal is a :class:`WxaXmlError`, which is a
:class:`~wxa_async.WxaSignatureError`, so a callback endpoint can answer every hostile
body the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn
from xml.parsers import expat

from ..errors import WxaBodyTooLargeError, WxaValidationError, WxaXmlError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "parse_xml",
    "render_event_xml",
    "to_xml",
]

DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB; a real push is well under 4 KiB
MAX_DEPTH = 32  # events are two levels deep; the cap bounds hostile nesting
MAX_ELEMENTS = 4096  # events have tens of elements; the cap bounds per-element work
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


class _Refused(Exception):
    """Raised from inside expat's handlers to abort the parse at once."""

    def __init__(self, error: WxaXmlError) -> None:
        super().__init__()
        self.error = error


def _refuse_dtd(*_args: object) -> NoReturn:
    raise _Refused(WxaXmlError("XML with a DOCTYPE or entity declaration is refused"))


class _TreeBuilder:
    """Builds ``{tag: value}`` as the parse goes, refusing at the first element that
    nests deeper than :data:`MAX_DEPTH` or passes :data:`MAX_ELEMENTS`.

    A value is the element's text (``str``), ``None`` when it is empty, a ``dict`` of
    its children (text beside children kept as ``"#text"``, dropped when only
    whitespace) and a ``list`` when a tag repeats.
    """

    __slots__ = ("count", "stack")

    def __init__(self) -> None:
        # One frame per open element: its name, children (None until the first) and text.
        self.stack: list[tuple[str, dict[str, Any] | None, list[str]]] = [("", None, [])]
        self.count = 0

    def start(self, name: str, _attributes: object) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise _Refused(WxaXmlError(f"XML has more than {MAX_ELEMENTS} elements"))
        if len(self.stack) > MAX_DEPTH:
            raise _Refused(WxaXmlError(f"XML nests deeper than {MAX_DEPTH} levels"))
        self.stack.append((name, None, []))

    def text(self, data: str) -> None:
        self.stack[-1][2].append(data)

    def end(self, _name: str) -> None:
        name, children, texts = self.stack.pop()
        text = "".join(texts) if texts else None
        value: Any
        if children is None:
            value = text
        else:
            if text is not None and text.strip():
                _add(children, "#text", text)
            value = children
        parent_name, parent_children, parent_texts = self.stack[-1]
        if parent_children is None:
            parent_children = {}
            self.stack[-1] = (parent_name, parent_children, parent_texts)
        _add(parent_children, name, value)


def _add(children: dict[str, Any], name: str, value: Any) -> None:
    if name not in children:
        children[name] = value
    elif isinstance(children[name], list):
        children[name].append(value)
    else:
        children[name] = [children[name], value]


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


def _parser(builder: _TreeBuilder) -> Any:
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.buffer_text = True  # text arrives in few large pieces, not one per line
    return parser


def parse_xml(
    data: str | bytes, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> dict[str, Any]:
    """Parse a WeChat push document into ``{tag: value}`` of its root's children.

    Values are ``str`` (CDATA or text, exactly as sent), ``None`` for an empty element,
    a ``dict`` for a nested element and a ``list`` for a repeated tag. Attributes are
    ignored (WeChat sends none). Raises :class:`WxaXmlError` for anything refused:
    over ``max_bytes`` (:class:`WxaBodyTooLargeError`, before parsing), a DOCTYPE,
    nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_ELEMENTS` elements
    (both as soon as the parse reaches the offending element), or malformed XML.
    """
    raw = _as_bytes(data, max_bytes)
    builder = _TreeBuilder()
    try:
        _parser(builder).Parse(raw, True)
    except _Refused as refused:
        raise refused.error from None
    except expat.ExpatError as exc:
        # ExpatError text is a reason plus a position, never the document itself.
        raise WxaXmlError(f"malformed XML: {exc}") from None
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise WxaXmlError("malformed XML") from None
    doc = builder.stack[0][1]
    if doc is None or len(doc) != 1:
        raise WxaXmlError("XML has no single root element")
    (body,) = doc.values()
    if body is None or (isinstance(body, str) and not body.strip()):
        return {}
    if not isinstance(body, dict):
        raise WxaXmlError("the root element has no child elements")
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
    """A push event exactly in the shape of WeChat's samples (获取审核结果), e.g.::

        <xml>
          <ToUserName><![CDATA[gh_fb9688c2a4b2]]></ToUserName>
          <CreateTime>1488856741</CreateTime>
          ...
        </xml>
    """
    return to_xml(fields, pretty=True)
