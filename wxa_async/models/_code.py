"""Models of the code-management endpoints (代码管理).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ..errors import WxaValidationError
from ._base import (
    WxaRequest,
    WxaResponse,
    _check_tags,
    _ext_json,
    _fail,
    _int,
    _one_of,
    _strings,
    _text,
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
    "LatestAuditStatusResponse",
    "PageListResponse",
    "QrcodeJumpFileResponse",
    "QrcodeJumpPrefixRequest",
    "QrcodeJumpRule",
    "QrcodeJumpRulesResponse",
    "QuotaResponse",
    "ReleaseInfo",
    "SetSupportVersionRequest",
    "SubmitAuditRequest",
    "SubmitAuditResponse",
    "SupportVersionResponse",
    "UvInfo",
    "UvItem",
    "VersionInfoResponse",
]


@attrs.frozen
class CommitRequest(WxaRequest):
    template_id: int = attrs.field(validator=_int(0))
    ext_json: str = attrs.field(converter=_ext_json)
    user_version: str = attrs.field(validator=_text(64, nonempty=True))
    user_desc: str = attrs.field(validator=_text())


@attrs.frozen
class GetQrcodeRequest(WxaRequest):
    path: str | None = attrs.field(default=None, validator=_text(nonempty=True, optional=True))


@attrs.frozen(kw_only=True)
class AuditItem:
    """One page of a :class:`SubmitAuditRequest`; names and limits from seed section 5."""

    address: str | None = attrs.field(default=None, validator=_text(optional=True))
    tag: str | None = attrs.field(default=None, validator=_check_tags)
    first_class: str | None = attrs.field(default=None, validator=_text(optional=True))
    second_class: str | None = attrs.field(default=None, validator=_text(optional=True))
    third_class: str | None = attrs.field(default=None, validator=_text(optional=True))
    first_id: int | None = attrs.field(default=None, validator=_int(0, optional=True))
    second_id: int | None = attrs.field(default=None, validator=_int(0, optional=True))
    third_id: int | None = attrs.field(default=None, validator=_int(0, optional=True))
    title: str | None = attrs.field(default=None, validator=_text(32, optional=True))


def _audit_items(value: Iterable[AuditItem | Mapping[str, Any]]) -> tuple[AuditItem, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise WxaValidationError(f"item_list: must be a list of items, got {type(value).__name__}")
    items: list[AuditItem] = []
    for index, item in enumerate(value):
        if isinstance(item, AuditItem):
            items.append(item)
        elif isinstance(item, Mapping):
            unknown = set(item) - _AUDIT_ITEM_FIELDS
            if unknown:
                raise WxaValidationError(
                    f"item_list[{index}]: unknown fields {sorted(map(str, unknown))}"
                )
            items.append(AuditItem(**item))
        else:
            raise WxaValidationError(
                f"item_list[{index}]: must be a dict or AuditItem, got {type(item).__name__}"
            )
    return tuple(items)


_AUDIT_ITEM_FIELDS = frozenset(a.name for a in attrs.fields(AuditItem))


def _item_count(_: Any, attribute: attrs.Attribute[Any], value: tuple[AuditItem, ...]) -> None:
    if not 1 <= len(value) <= 5:
        raise _fail(attribute, f"must hold 1 to 5 items, got {len(value)}")


@attrs.frozen
class SubmitAuditRequest(WxaRequest):
    item_list: tuple[AuditItem, ...] = attrs.field(converter=_audit_items, validator=_item_count)


@attrs.frozen
class AuditIdRequest(WxaRequest):
    auditid: int = attrs.field(validator=_int(1))


@attrs.frozen
class ChangeVisitStatusRequest(WxaRequest):
    action: Literal["open", "close"] = attrs.field(validator=_one_of("open", "close"))


@attrs.frozen
class SetSupportVersionRequest(WxaRequest):
    version: str = attrs.field(validator=_text(nonempty=True))


@attrs.frozen
class AddQrcodeJumpRequest(WxaRequest):
    prefix: str = attrs.field(validator=_text(nonempty=True))
    # The seed sends these two as strings ("permit_sub_rule": "1").
    permit_sub_rule: Literal[1, 2] = attrs.field(
        validator=_one_of(1, 2), metadata={"wire": str}
    )
    path: str = attrs.field(validator=_text(nonempty=True))
    open_version: Literal[1, 2, 3] = attrs.field(
        validator=_one_of(1, 2, 3), metadata={"wire": str}
    )
    debug_url: tuple[str, ...] = attrs.field(
        default=(), converter=_strings, metadata={"omit_empty": True}
    )
    is_edit: Literal[0, 1] = attrs.field(default=0, validator=_one_of(0, 1))

    @debug_url.validator
    def _at_most_five(self, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        if len(value) > 5:
            raise _fail(attribute, f"at most 5 entries, got {len(value)}")


@attrs.frozen
class QrcodeJumpPrefixRequest(WxaRequest):
    prefix: str = attrs.field(validator=_text(nonempty=True))


@attrs.frozen
class GrayReleaseRequest(WxaRequest):
    gray_percentage: int = attrs.field(validator=_int(1, 100))


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


@attrs.define
class AuditStatusResponse(WxaResponse):
    """``status``: 0 passed, 1 rejected, 2 under audit, 3 withdrawn, 4 delayed."""

    status: int = 0
    reason: str | None = None
    screenshot: str | None = None


@attrs.define
class LatestAuditStatusResponse(AuditStatusResponse):
    # The service sends this one as a string ("1234567"); the converter makes it an int.
    auditid: int = 0


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
