"""Models of the code-template library (代码模板库) of a third-party platform.

Code uploaded from WeChat's developer tools lands in the draft box (草稿箱); a draft
added to the library becomes a template whose ``template_id`` ``commit`` takes.
"""

from __future__ import annotations

from typing import Literal

import attrs

from ._base import WxaRequest, WxaResponse, _int, _one_of
from ._code import Category

__all__ = [
    "AddToTemplateRequest",
    "DeleteTemplateRequest",
    "Draft",
    "DraftListResponse",
    "Template",
    "TemplateListRequest",
    "TemplateListResponse",
]

_template_type = _one_of(0, 1)


def _optional_type(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if value is not None:
        _template_type(instance, attribute, value)


@attrs.frozen
class AddToTemplateRequest(WxaRequest):
    """``template_type`` 0 an ordinary template, 1 a standard one (标准模板)."""

    draft_id: int = attrs.field(validator=_int(0), metadata={"errcode": 85064})
    template_type: Literal[0, 1] | None = attrs.field(default=None, validator=_optional_type)


@attrs.frozen
class TemplateListRequest(WxaRequest):
    template_type: Literal[0, 1] | None = attrs.field(default=None, validator=_optional_type)


@attrs.frozen
class DeleteTemplateRequest(WxaRequest):
    template_id: int = attrs.field(validator=_int(0), metadata={"errcode": 85064})


# -- responses ---------------------------------------------------------------------


@attrs.define
class Draft:
    draft_id: int = 0
    user_version: str = ""
    user_desc: str = ""
    create_time: int = 0
    source_miniprogram_appid: str = ""
    source_miniprogram: str = ""
    developer: str = ""


@attrs.define
class DraftListResponse(WxaResponse):
    draft_list: list[Draft] = attrs.field(factory=list)


@attrs.define
class Template:
    """A template of the library; ``audit_status`` and ``reason`` are those of a
    standard template's own audit."""

    template_id: int = 0
    user_version: str = ""
    user_desc: str = ""
    create_time: int = 0
    template_type: int = 0
    source_miniprogram_appid: str = ""
    source_miniprogram: str = ""
    developer: str = ""
    category_list: list[Category] = attrs.field(factory=list)
    audit_scene: int | None = None
    audit_status: int | None = None
    reason: str | None = None


@attrs.define
class TemplateListResponse(WxaResponse):
    template_list: list[Template] = attrs.field(factory=list)
