"""Every documented limit: WxaValidationError (a ValueError) before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.core import APPID, FakeService, call, make_client
from wxa_async import WxaError, WxaValidationError
from wxa_async.models import AuditItem


def item(**fields: Any) -> dict[str, Any]:
    return {"address": "index", "tag": "学习", "title": "首页", **fields}


TAG_21 = "x" * 21
URLS = [f"https://weixin.qq.com/qrcodejump?a={i}" for i in range(6)]

INVALID: list[tuple[str, dict[str, Any], str]] = [
    # (endpoint, overriding arguments, field the message must name)
    ("commit", {"user_version": "v" * 65}, "user_version"),
    ("commit", {"user_version": ""}, "user_version"),
    ("commit", {"user_version": 1}, "user_version"),
    ("commit", {"template_id": -1}, "template_id"),
    ("commit", {"template_id": "1"}, "template_id"),
    ("commit", {"ext_json": ["not", "an", "object"]}, "ext_json"),
    ("commit", {"ext_json": {"bad": {1, 2}}}, "ext_json"),
    ("submit_audit", {"item_list": []}, "item_list"),
    ("submit_audit", {"item_list": [item() for _ in range(6)]}, "item_list"),
    ("submit_audit", {"item_list": item()}, "item_list"),  # a dict, not a list of them
    ("submit_audit", {"item_list": "index"}, "item_list"),
    ("submit_audit", {"item_list": [item(), 42]}, "item_list"),
    ("submit_audit", {"item_list": [item(adress="typo")]}, "item_list"),
    ("submit_audit", {"item_list": [item(tag=" ".join(["t"] * 11))]}, "tag"),
    ("submit_audit", {"item_list": [item(tag=f"ok {TAG_21}")]}, "tag"),
    ("submit_audit", {"item_list": [item(title="题" * 33)]}, "title"),
    ("submit_audit", {"item_list": [item(first_id=-1)]}, "first_id"),
    ("gray_release", {"gray_percentage": 0}, "gray_percentage"),
    ("gray_release", {"gray_percentage": 101}, "gray_percentage"),
    ("gray_release", {"gray_percentage": True}, "gray_percentage"),
    ("gray_release", {"gray_percentage": 50.0}, "gray_percentage"),
    ("gray_release", {"gray_percentage": "50"}, "gray_percentage"),
    ("change_visit_status", {"action": "shut"}, "action"),
    ("change_visit_status", {"action": "OPEN"}, "action"),
    ("add_qrcode_jump", {"debug_url": URLS}, "debug_url"),
    ("add_qrcode_jump", {"debug_url": "https://weixin.qq.com/qrcodejump?a=1"}, "debug_url"),
    ("add_qrcode_jump", {"permit_sub_rule": 0}, "permit_sub_rule"),
    ("add_qrcode_jump", {"permit_sub_rule": 3}, "permit_sub_rule"),
    ("add_qrcode_jump", {"permit_sub_rule": True}, "permit_sub_rule"),
    ("add_qrcode_jump", {"permit_sub_rule": 1.0}, "permit_sub_rule"),
    ("add_qrcode_jump", {"open_version": 0}, "open_version"),
    ("add_qrcode_jump", {"open_version": 4}, "open_version"),
    ("add_qrcode_jump", {"is_edit": 2}, "is_edit"),
    ("add_qrcode_jump", {"is_edit": True}, "is_edit"),
    ("add_qrcode_jump", {"prefix": ""}, "prefix"),
    ("add_qrcode_jump", {"path": ""}, "path"),
    ("delete_qrcode_jump", {"prefix": ""}, "prefix"),
    ("publish_qrcode_jump", {"prefix": "  "}, "prefix"),
    ("publish_qrcode_jump", {"prefix": None}, "prefix"),
    ("get_audit_status", {"auditid": 0}, "auditid"),
    ("get_audit_status", {"auditid": -5}, "auditid"),
    ("get_audit_status", {"auditid": "1234567"}, "auditid"),
    ("get_audit_status", {"auditid": True}, "auditid"),
    ("speedup_audit", {"auditid": 0}, "auditid"),
    ("set_support_version", {"version": ""}, "version"),
    ("get_qrcode", {"path": ""}, "path"),
]


@pytest.mark.parametrize(
    ("name", "overrides", "field"), INVALID, ids=[f"{n}-{f}-{i}" for i, (n, _, f) in
                                                  enumerate(INVALID)]
)
async def test_invalid_arguments_raise_before_anything_is_sent(
    name: str, overrides: dict[str, Any], field: str
) -> None:
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(WxaValidationError) as caught:
            await call(client, name, **overrides)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, WxaError)
    assert field in str(caught.value)
    assert service.requests == []


VALID_EDGES: list[tuple[str, dict[str, Any]]] = [
    ("commit", {"user_version": "v" * 64}),
    ("commit", {"user_desc": ""}),
    ("submit_audit", {"item_list": [item() for _ in range(5)]}),
    ("submit_audit", {"item_list": (item(),)}),  # any iterable of items
    ("submit_audit", {"item_list": [item(tag=" ".join(["t" * 20] * 10))]}),
    ("submit_audit", {"item_list": [item(title="题" * 32)]}),
    ("gray_release", {"gray_percentage": 1}),
    ("gray_release", {"gray_percentage": 100}),
    ("change_visit_status", {"action": "open"}),
    ("add_qrcode_jump", {"debug_url": URLS[:5], "permit_sub_rule": 2, "open_version": 3,
                         "is_edit": 1}),
    ("add_qrcode_jump", {"open_version": 2}),
    ("get_audit_status", {"auditid": 1}),
]


@pytest.mark.parametrize(("name", "overrides"), VALID_EDGES)
async def test_values_at_the_limits_are_accepted_and_sent(
    name: str, overrides: dict[str, Any]
) -> None:
    service = FakeService()
    async with make_client(service) as client:
        await call(client, name, **overrides)
    assert len(service.requests) == 1


def test_audit_item_model_validates_on_construction() -> None:
    with pytest.raises(WxaValidationError, match="title"):
        AuditItem(address="index", title="题" * 33)
    with pytest.raises(WxaValidationError, match="tag"):
        AuditItem(address="index", tag=" ".join(["t"] * 11))
    assert AuditItem(address="index").title is None


async def test_a_misspelt_keyword_is_a_type_error_before_sending() -> None:
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(TypeError):
            await client.app(APPID).gray_release(gray_percent=10)  # type: ignore[call-arg]
    assert service.requests == []


async def test_invalid_qrcode_path_creates_no_file(tmp_path: Path) -> None:
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(WxaValidationError):
            await client.app(APPID).get_qrcode.to_file(tmp_path / "qr.jpg", path="")
    assert list(tmp_path.iterdir()) == []
    assert service.requests == []


async def test_to_file_rejects_a_destination_that_is_neither_path_nor_file() -> None:
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(WxaValidationError, match="dest"):
            await client.app(APPID).get_qrcode.to_file(42)  # type: ignore[arg-type]
    assert service.requests == []


async def test_empty_appid_is_rejected() -> None:
    async with make_client(FakeService()) as client:
        with pytest.raises(WxaValidationError):
            client.app("")


@pytest.mark.parametrize(
    "options", [{"max_retries": -1}, {"max_concurrency": 0}], ids=["retries", "concurrency"]
)
def test_bad_client_options_are_value_errors(options: dict[str, Any]) -> None:
    service = FakeService()
    with pytest.raises(ValueError):
        make_client(service, **options)


async def test_bad_with_options_retries_is_a_value_error() -> None:
    async with make_client(FakeService()) as client:
        with pytest.raises(ValueError):
            client.with_options(max_retries=-1)

