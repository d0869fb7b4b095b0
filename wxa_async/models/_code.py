"""Models of the code-management endpoints (代码管理), as WeChat's current docs give them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from ..errors import WxaValidationError
from ._base import (
    WxaRequest,
    WxaResponse,
    _build,
    _check_tags,
    _encodable,
    _ext_json,
    _fail,
    _flag,
    _int,
    _int_list,
    _one_of,
    _string_list,
    _strings,
    _text,
    _wire_object,
)

__all__ = [
    "AddQrcodeJumpRequest",
    "AuditIdRequest",
    "AuditItem",
    "AuditStatusResponse",
    "Category",
    "CategoryListResponse",
    "ChangeVisitStatusRequest",
    "CodePrivacyInfoResponse",
    "CommitRequest",
    "ExpInfo",
    "GetQrcodeRequest",
    "GrayReleasePlan",
    "GrayReleasePlanResponse",
    "GrayReleaseRequest",
    "HistoryVersion",
    "HistoryVersionRequest",
    "HistoryVersionResponse",
    "LatestAuditStatusResponse",
    "PageListResponse",
    "PreviewInfo",
    "QrcodeJumpFileResponse",
    "QrcodeJumpPrefixRequest",
    "QrcodeJumpRule",
    "QrcodeJumpRulesResponse",
    "QuotaResponse",
    "ReleaseInfo",
    "RevertCodeReleaseRequest",
    "SetSupportVersionRequest",
    "SubmitAuditRequest",
    "SubmitAuditResponse",
    "SupportVersionResponse",
    "UgcDeclare",
    "UvInfo",
    "UvItem",
    "VersionInfoResponse",
]


@attrs.frozen
class CommitRequest(WxaRequest):
    template_id: int = attrs.field(validator=_int(0), metadata={"errcode": 85014})
    ext_json: str = attrs.field(converter=_ext_json, metadata={"errcode": 85048})
    user_version: str = attrs.field(validator=_text(64, nonempty=True))
    user_desc: str = attrs.field(validator=_text())


@attrs.frozen
class GetQrcodeRequest(WxaRequest):
    path: str | None = attrs.field(default=None, validator=_text(nonempty=True, optional=True))


@attrs.frozen(kw_only=True)
class AuditItem:
    """One page of a :class:`SubmitAuditRequest` (``item_list``)."""

    address: str | None = attrs.field(
        default=None, validator=_text(optional=True), metadata={"errcode": 85007}
    )
    tag: str | None = attrs.field(
        default=None, validator=_check_tags, metadata={"errcode": 85006}
    )
    first_class: str | None = attrs.field(default=None, validator=_text(optional=True),
                                          metadata={"errcode": 85008})
    second_class: str | None = attrs.field(default=None, validator=_text(optional=True),
                                           metadata={"errcode": 85008})
    third_class: str | None = attrs.field(default=None, validator=_text(optional=True),
                                          metadata={"errcode": 85008})
    first_id: int | None = attrs.field(default=None, validator=_int(0, optional=True),
                                       metadata={"errcode": 85008})
    second_id: int | None = attrs.field(default=None, validator=_int(0, optional=True),
                                        metadata={"errcode": 85008})
    third_id: int | None = attrs.field(default=None, validator=_int(0, optional=True),
                                       metadata={"errcode": 85008})
    title: str | None = attrs.field(
        default=None, validator=_text(32, optional=True), metadata={"errcode": 85011}
    )


def _audit_items(
    value: Iterable[AuditItem | Mapping[str, Any]] | None,
) -> tuple[AuditItem, ...] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise WxaValidationError(
            f"item_list: must be a list of items, got {type(value).__name__}",
            field="item_list", errcode=85023,
        )
    items: list[AuditItem] = []
    for index, item in enumerate(value):
        if isinstance(item, AuditItem):
            items.append(item)
        elif isinstance(item, Mapping):
            unknown = set(item) - _AUDIT_ITEM_FIELDS
            if unknown:
                raise WxaValidationError(
                    f"item_list[{index}]: unknown fields {sorted(map(str, unknown))}",
                    field="item_list", errcode=85010,
                )
            items.append(AuditItem(**item))
        else:
            raise WxaValidationError(
                f"item_list[{index}]: must be a dict or AuditItem, got {type(item).__name__}",
                field="item_list", errcode=85010,
            )
    return tuple(items)


_AUDIT_ITEM_FIELDS = frozenset(a.name for a in attrs.fields(AuditItem))


def _item_count(
    _: Any, attribute: attrs.Attribute[Any], value: tuple[AuditItem, ...] | None
) -> None:
    if value is not None and not 1 <= len(value) <= 5:
        raise _fail(attribute, f"must hold 1 to 5 items, got {len(value)}")


def _media_id_list(value: Iterable[str], name: str) -> tuple[str, ...]:
    return _string_list(value, name, nonempty=True)


def _video_ids(value: Iterable[str]) -> tuple[str, ...]:
    return _media_id_list(value, "video_id_list")


def _pic_ids(value: Iterable[str]) -> tuple[str, ...]:
    return _media_id_list(value, "pic_id_list")


@attrs.frozen(kw_only=True)
class PreviewInfo:
    """Screen recordings and screenshots for the audit: media ids from ``upload_media``."""

    video_id_list: tuple[str, ...] = attrs.field(default=(), converter=_video_ids)
    pic_id_list: tuple[str, ...] = attrs.field(default=(), converter=_pic_ids)


def _scenes(value: Iterable[int]) -> tuple[int, ...]:
    return _int_list(value, "scene")


def _methods(value: Iterable[int]) -> tuple[int, ...]:
    return _int_list(value, "method")


@attrs.frozen(kw_only=True)
class UgcDeclare:
    """The declaration of user-generated content (UGC) the mini program carries:
    ``scene`` and ``method`` are lists of WeChat's scene and review-method codes."""

    scene: tuple[int, ...] = attrs.field(default=(), converter=_scenes)
    other_scene_desc: str | None = attrs.field(default=None, validator=_text(optional=True))
    method: tuple[int, ...] = attrs.field(default=(), converter=_methods)
    has_audit_team: int | None = attrs.field(default=None, validator=_int(0, optional=True))
    audit_desc: str | None = attrs.field(default=None, validator=_text(optional=True))


def _feedback_stuff(value: str | Sequence[str] | None) -> str | None:
    """Media ids (at most 5) as the one ``|``-joined string the service takes; a string
    is passed through unchanged."""
    if value is None or isinstance(value, str):
        if value is not None and not _encodable(value):
            raise WxaValidationError("feedback_stuff: must be valid Unicode",
                                     field="feedback_stuff")
        return value
    ids = _string_list(value, "feedback_stuff", nonempty=True)
    if len(ids) > 5:
        raise WxaValidationError(
            f"feedback_stuff: at most 5 media ids, got {len(ids)}", field="feedback_stuff"
        )
    if any("|" in media_id for media_id in ids):
        raise WxaValidationError("feedback_stuff: a media id cannot hold '|'",
                                 field="feedback_stuff")
    return "|".join(ids)


def _preview_info(value: PreviewInfo | Mapping[str, Any] | None) -> PreviewInfo | None:
    return None if value is None else _build(PreviewInfo, value, "preview_info", 85092)


def _ugc_declare(value: UgcDeclare | Mapping[str, Any] | None) -> UgcDeclare | None:
    return None if value is None else _build(UgcDeclare, value, "ugc_declare")


_OBJECT = {"wire": _wire_object}


@attrs.frozen
class SubmitAuditRequest(WxaRequest):
    """``item_list`` may be left out (the service then takes the pages and categories
    from the code); the other fields are keyword-only."""

    item_list: tuple[AuditItem, ...] | None = attrs.field(
        default=None, converter=_audit_items, validator=_item_count,
        metadata={"errcode": 85023},
    )
    feedback_info: str | None = attrs.field(
        default=None, kw_only=True, validator=_text(200, optional=True)
    )
    feedback_stuff: str | None = attrs.field(
        default=None, kw_only=True, converter=_feedback_stuff
    )
    version_desc: str | None = attrs.field(
        default=None, kw_only=True, validator=_text(optional=True)
    )
    preview_info: PreviewInfo | None = attrs.field(
        default=None, kw_only=True, converter=_preview_info,
        metadata={**_OBJECT, "errcode": 85092},
    )
    ugc_declare: UgcDeclare | None = attrs.field(
        default=None, kw_only=True, converter=_ugc_declare, metadata=_OBJECT
    )
    privacy_api_not_use: bool | None = attrs.field(default=None, kw_only=True, validator=_flag)
    order_path: str | None = attrs.field(
        default=None, kw_only=True, validator=_text(optional=True)
    )


@attrs.frozen
class AuditIdRequest(WxaRequest):
    auditid: int = attrs.field(validator=_int(1), metadata={"errcode": 85012})


@attrs.frozen
class ChangeVisitStatusRequest(WxaRequest):
    action: Literal["open", "close"] = attrs.field(
        validator=_one_of("open", "close"), metadata={"errcode": 85022}
    )


@attrs.frozen
class SetSupportVersionRequest(WxaRequest):
    version: str = attrs.field(validator=_text(nonempty=True), metadata={"errcode": 85015})


@attrs.frozen
class AddQrcodeJumpRequest(WxaRequest):
    prefix: str = attrs.field(validator=_text(nonempty=True), metadata={"errcode": 85066})
    # WeChat's docs send these two as strings ("permit_sub_rule": "1").
    permit_sub_rule: Literal[1, 2] = attrs.field(
        validator=_one_of(1, 2), metadata={"wire": str}
    )
    path: str = attrs.field(validator=_text(nonempty=True), metadata={"errcode": 85066})
    open_version: Literal[1, 2, 3] = attrs.field(
        validator=_one_of(1, 2, 3), metadata={"wire": str}
    )
    debug_url: tuple[str, ...] = attrs.field(
        default=(), converter=_strings, metadata={"omit_empty": True, "errcode": 85068}
    )
    is_edit: Literal[0, 1] = attrs.field(default=0, validator=_one_of(0, 1))

    @debug_url.validator
    def _at_most_five(self, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        if len(value) > 5:
            raise _fail(attribute, f"at most 5 entries, got {len(value)}")


@attrs.frozen
class QrcodeJumpPrefixRequest(WxaRequest):
    prefix: str = attrs.field(validator=_text(nonempty=True), metadata={"errcode": 85066})


@attrs.frozen
class GrayReleaseRequest(WxaRequest):
    """``gray_percentage`` 0 to 100; 0 only with one of the two flags True (the staged
    version then reaches project members or trial users first, and nobody else yet)."""

    gray_percentage: int = attrs.field(validator=_int(0, 100), metadata={"errcode": 85081})
    support_debuger_first: bool | None = attrs.field(default=None, validator=_flag)
    support_experiencer_first: bool | None = attrs.field(default=None, validator=_flag)

    def __attrs_post_init__(self) -> None:
        if self.gray_percentage == 0 and not (
            self.support_debuger_first or self.support_experiencer_first
        ):
            raise WxaValidationError(
                "gray_percentage: 0 is valid only with support_debuger_first or "
                "support_experiencer_first True", field="gray_percentage", errcode=85081,
            )


@attrs.frozen
class RevertCodeReleaseRequest(WxaRequest):
    """``app_version`` (from :class:`HistoryVersion`) picks the version to roll back to;
    without it the service rolls back to the previous one."""

    app_version: int | None = attrs.field(
        default=None, validator=_int(1, optional=True), metadata={"errcode": 87012}
    )


@attrs.frozen
class HistoryVersionRequest(WxaRequest):
    """``revertcoderelease`` with ``action=get_history_version``: a read, not a revert."""

    action: Literal["get_history_version"] = attrs.field(
        default="get_history_version", init=False
    )


# -- responses ---------------------------------------------------------------------


@attrs.define
class Category:
    first_class: str | None = None
    second_class: str | None = None
    third_class: str | None = None
    first_id: int | None = None
    second_id: int | None = None
    third_id: int | None = None


@attrs.define
class CategoryListResponse(WxaResponse):
    category_list: list[Category] = attrs.field(factory=list)


@attrs.define
class PageListResponse(WxaResponse):
    page_list: list[str] = attrs.field(factory=list)


@attrs.define
class SubmitAuditResponse(WxaResponse):
    auditid: int = 0


def _media_ids(value: Any) -> Any:
    # "id1|id2" on the wire; a list (should the service send one) is taken as it is.
    if isinstance(value, str):
        return tuple(part for part in value.split("|") if part)
    return value


@attrs.define
class AuditStatusResponse(WxaResponse):
    """``status``: 0 passed, 1 rejected, 2 under audit, 3 withdrawn, 4 delayed (the
    audit takes longer; a final pass or reject follows). ``screenshot``: media ids of
    the reviewer's screenshots for a rejection (the service spells the field
    ``screenshot`` or ``ScreenShot``)."""

    status: int = 0
    reason: str | None = None
    screenshot: tuple[str, ...] = attrs.field(
        default=(), metadata={"aliases": ("ScreenShot",), "read": _media_ids}
    )


@attrs.define
class LatestAuditStatusResponse(AuditStatusResponse):
    # The service sends this one as a string ("1234567"); the converter makes it an int.
    auditid: int = 0
    user_version: str | None = None
    user_desc: str | None = None
    submit_audit_time: int | None = None


@attrs.define
class HistoryVersion:
    """A version that was online; ``app_version`` is what ``revert_code_release`` takes."""

    app_version: int = 0
    user_version: str = ""
    user_desc: str = ""
    commit_time: int = 0


@attrs.define
class HistoryVersionResponse(WxaResponse):
    version_list: list[HistoryVersion] = attrs.field(factory=list)


@attrs.define
class UvItem:
    percentage: float = 0.0
    version: str = ""


@attrs.define
class UvInfo:
    items: list[UvItem] = attrs.field(factory=list)


@attrs.define
class SupportVersionResponse(WxaResponse):
    now_version: str = ""
    uv_info: UvInfo = attrs.field(factory=UvInfo)


@attrs.define
class QrcodeJumpRule:
    prefix: str = ""
    open_version: int = 0
    state: int = 0
    permit_sub_rule: int = 0
    path: str = ""
    debug_url: list[str] = attrs.field(factory=list)


@attrs.define
class QrcodeJumpRulesResponse(WxaResponse):
    rule_list: list[QrcodeJumpRule] = attrs.field(factory=list)
    qrcodejump_open: int = 0
    list_size: int = 0
    qrcodejump_pub_quota: int = 0


@attrs.define
class QrcodeJumpFileResponse(WxaResponse):
    file_name: str = ""
    file_content: str = ""


@attrs.define
class GrayReleasePlan:
    """``status``: 0 initial, 1 running, 2 paused, 3 finished, 4 deleted."""

    status: int = 0
    create_timestamp: int = 0
    gray_percentage: int = 0
    support_debuger_first: bool = False
    support_experiencer_first: bool = False


@attrs.define
class GrayReleasePlanResponse(WxaResponse):
    gray_release_plan: GrayReleasePlan = attrs.field(factory=GrayReleasePlan)


@attrs.define
class QuotaResponse(WxaResponse):
    rest: int = 0
    limit: int = 0
    speedup_rest: int = 0
    speedup_limit: int = 0


@attrs.define
class CodePrivacyInfoResponse(WxaResponse):
    without_auth_list: list[str] = attrs.field(factory=list)
    without_conf_list: list[str] = attrs.field(factory=list)


@attrs.define
class ExpInfo:
    """The trial version."""

    exp_time: int = 0
    exp_version: str = ""
    exp_desc: str = ""


@attrs.define
class ReleaseInfo:
    """The online version."""

    release_time: int = 0
    release_version: str = ""
    release_desc: str = ""


@attrs.define
class VersionInfoResponse(WxaResponse):
    exp_info: ExpInfo | None = None
    release_info: ReleaseInfo | None = None
