"""The emulator parses multipart uploads for real, over loopback HTTP on both transports,
and remembers what was uploaded: media ids expire after 3 days (85092)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from tests.support.emulator import APPID, ITEM, make_emulator
from wxa_async import StaticTokenProvider, WxaApiError, WxaClient
from wxa_async.testing import running_server
from wxa_async.transports import AiohttpTransport, HttpxTransport, Transport

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def transport(kind: str) -> Transport:
    return HttpxTransport() if kind == "httpx" else AiohttpTransport()


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_uploads_over_http_feed_the_audit_and_expire(kind: str, tmp_path: Path) -> None:
    emu, _, token = make_emulator()
    video = tmp_path / "录屏.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" * 1000)
    wire = transport(kind)
    async with running_server(emu) as base_url, WxaClient(
        StaticTokenProvider({APPID: token}), base_url=base_url, transport=wire
    ) as client:
        app = client.app(APPID)
        picture = await app.upload_media(PNG, filename="截图.png")
        recording = await app.upload_media(video)
        ext = await app.upload_privacy_ext_file(io.BytesIO("补充说明".encode()),
                                                filename="ext.txt")
        assert (picture.type, recording.type) == ("image", "video")
        stored = emu.media[recording.mediaid]
        assert (stored.filename, stored.content_type, stored.size) == (
            "录屏.mp4", "video/mp4", video.stat().st_size)
        assert emu.media[picture.mediaid].filename == "截图.png"
        await app.set_privacy_setting({"contact_qq": "1", "notice_method": "弹窗",
                                       "ext_file_media_id": ext.ext_file_media_id})
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        preview = {"video_id_list": [recording.mediaid], "pic_id_list": [picture.mediaid]}
        auditid = (await app.submit_audit([ITEM], preview_info=preview,
                                          feedback_stuff=[picture.mediaid])).auditid
        emu.finish_audit(APPID, success=False)
        emu.clock.advance(3 * 86400)  # media ids live 3 days
        with pytest.raises(WxaApiError) as caught:
            await app.submit_audit([ITEM], preview_info=preview)
        assert caught.value.errcode == 85092
    await wire.aclose()
    assert auditid > 0


async def test_malformed_uploads_answer_errcodes_not_tracebacks() -> None:
    emu, _, token = make_emulator()
    url = "/wxa/uploadmedia"
    async with running_server(emu) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        async def post(content: bytes, content_type: str) -> int:
            answer = await http.post(url, params={"access_token": token}, content=content,
                                     headers={"Content-Type": content_type})
            assert answer.status_code == 200
            return int(answer.json()["errcode"])

        good = (b'--b\r\nContent-Disposition: form-data; name="media"; filename="a.png"\r\n'
                b"Content-Type: image/png\r\n\r\n" + PNG + b"\r\n--b--\r\n")
        assert await post(good, "multipart/form-data; boundary=b") == 0
        assert await post(good, "application/json") == 41005
        assert await post(good, "multipart/form-data") == 47001
        assert await post(good[:-10], "multipart/form-data; boundary=b") == 47001
        assert await post(good.replace(b'"media"', b'"file"'),
                          "multipart/form-data; boundary=b") == 41005
        assert await post(good.replace(b"a.png", b"a.bmp"),
                          "multipart/form-data; boundary=b") == 40005
        assert await post(good.replace(b'; filename="a.png"', b""),
                          "multipart/form-data; boundary=b") == 47001  # no file name
        big = good.replace(PNG, b"\x00" * (2 * 1024 * 1024 + 1))
        assert await post(big, "multipart/form-data; boundary=b") == 40006
