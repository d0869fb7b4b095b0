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
    LatestAuditStatusResponse,
    PageListResponse,
    SubmitAuditResponse,
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

        await app.commit(templat_id=1, ext_json="{}", user_version="v", user_desc="d")  # type: ignore[call-arg]
        await app.gray_release(gray_percentage="10")  # type: ignore[arg-type]
        await app.get_page(path="x")  # type: ignore[call-arg]
        await app.change_visit_status(action="shut")  # type: ignore[arg-type]
        await app.get_qrcode.to_file("qr.jpg", pth="x")  # type: ignore[call-arg]
        await app.add_qrcode_jump(prefix="p", permit_sub_rule=3, path="x", open_version=1)  # type: ignore[arg-type]
        await app.get_audit_status(audit_id=1)  # type: ignore[call-arg]
