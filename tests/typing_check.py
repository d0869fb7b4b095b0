"""Checked by mypy in the ``typecheck`` session (never run): the generated methods
carry each request class's real signature, and a misspelt keyword is a type error.

``warn_unused_ignores`` (part of --strict) makes each ``type: ignore`` below an
assertion: if the line stopped being an error, mypy would fail on the unused ignore.
"""

from __future__ import annotations

import io
from typing import assert_type

from wxa_async import StaticTokenProvider, WxaClient
from wxa_async.models import (
    HistoryVersionResponse,
    LatestAuditStatusResponse,
    PageListResponse,
    PreviewInfo,
    PrivacySettingResponse,
    SubmitAuditResponse,
    TemplateListResponse,
    UploadMediaResponse,
    UploadPrivacyExtFileResponse,
    WxaResponse,
)


async def signatures() -> None:
    async with WxaClient(token_provider=StaticTokenProvider({"wx1": "t"})) as client:
        app = client.app("wx1")
        assert_type(await app.get_page(), PageListResponse)
        assert_type(
            await app.commit(template_id=1, ext_json={}, user_version="v", user_desc="d"),
            WxaResponse,
        )
        assert_type(await app.submit_audit(item_list=[{"address": "index"}]), SubmitAuditResponse)
        assert_type(await app.get_qrcode(path="page/index"), bytes)
        assert_type(await app.get_qrcode.to_file("qr.jpg", path="page/index"), int)
        assert_type(await app.gray_release(gray_percentage=10), WxaResponse)
        assert_type(await app.get_qrcode.to_file(io.BytesIO()), int)
        assert_type(await app.get_latest_audit_status(), LatestAuditStatusResponse)
        assert_type((await app.get_category()).category_list[1].third_class, str | None)
        assert_type(client.with_options(max_retries=0), WxaClient)

        assert_type(await app.submit_audit(), SubmitAuditResponse)
        assert_type(
            await app.submit_audit(
                [{"address": "index"}], feedback_info="f", feedback_stuff=["m1", "m2"],
                version_desc="v", preview_info=PreviewInfo(pic_id_list=("p",)),
                ugc_declare={"scene": [1]}, privacy_api_not_use=True, order_path="p",
            ),
            SubmitAuditResponse,
        )
        assert_type(await app.submit_audit(feedback_stuff="m1|m2"), SubmitAuditResponse)
        assert_type(await app.upload_media("shot.png"), UploadMediaResponse)
        assert_type(await app.upload_media(b"...", filename="shot.png"), UploadMediaResponse)
        with open("shot.png", "rb") as file:
            assert_type(await app.upload_media(file), UploadMediaResponse)
        assert_type(await app.upload_privacy_ext_file(io.BytesIO(b"t"), filename="e.txt"),
                    UploadPrivacyExtFileResponse)
        assert_type(await app.get_history_version(), HistoryVersionResponse)
        assert_type(await app.revert_code_release(app_version=3), WxaResponse)
        assert_type(await app.gray_release(0, support_debuger_first=True), WxaResponse)
        assert_type(await app.get_privacy_setting(privacy_ver=1), PrivacySettingResponse)
        assert_type((await app.get_latest_audit_status()).screenshot, tuple[str, ...])

        component = client.component()
        assert_type(await component.get_template_list(template_type=1), TemplateListResponse)
        assert_type(await component.add_to_template(4, template_type=0), WxaResponse)
        assert_type((await component.get_template_draft_list()).draft_list[0].draft_id, int)
        await component.add_to_template(draft="4")  # type: ignore[call-arg]
        await component.get_template_list(template_type=2)  # type: ignore[arg-type]
        await app.get_template_list()  # type: ignore[attr-defined]

        await app.submit_audit([], "feedback")  # type: ignore[call-arg]
        await app.submit_audit(privacy_api_not_use="yes")  # type: ignore[arg-type]
        await app.upload_media(3)  # type: ignore[arg-type]
        await app.upload_media(b"x", name="a.png")  # type: ignore[call-arg]
        await app.get_history_version(action="x")  # type: ignore[call-arg]
        await app.get_privacy_setting(privacy_ver=3)  # type: ignore[arg-type]
        await app.commit(templat_id=1, ext_json="{}", user_version="v", user_desc="d")  # type: ignore[call-arg]
        await app.gray_release(gray_percentage="10")  # type: ignore[arg-type]
        await app.get_page(path="x")  # type: ignore[call-arg]
        await app.change_visit_status(action="shut")  # type: ignore[arg-type]
        await app.get_qrcode.to_file("qr.jpg", pth="x")  # type: ignore[call-arg]
        await app.add_qrcode_jump(prefix="p", permit_sub_rule=3, path="x", open_version=1)  # type: ignore[arg-type]
        await app.get_audit_status(audit_id=1)  # type: ignore[call-arg]
