"""The emulator over a real loopback socket (uvicorn), the admin API and the CLI."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.emulator import APPID, ITEM, PAGES, free_port, make_emulator, serve_asgi
from wxa_async import HttpxTransport, StaticTokenProvider, WxaApiError, WxaClient, WxaTransportError
from wxa_async.push import AuditFailEvent, Event, MessageCrypto, callback_asgi_app
from wxa_async.testing import Emulator, FakeTransport, running_server
from wxa_async.tokens import ComponentTokenProvider

REPO = Path(__file__).resolve().parents[2]


async def test_release_pipeline_over_http() -> None:
    emu, state, token = make_emulator()
    # No transport given: the client makes (and closes) its default HttpxTransport.
    async with running_server(emu) as base_url, WxaClient(
        StaticTokenProvider({APPID: token}), base_url=base_url
    ) as client:
        assert isinstance(client.transport, HttpxTransport)
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        assert (await app.get_page()).page_list == PAGES
        image = await app.get_qrcode(path=PAGES[1])
        auditid = (await app.submit_audit(item_list=[ITEM])).auditid
        emu.finish_audit(APPID, success=True)
        assert (await app.get_latest_audit_status()).auditid == auditid
        await app.release()
        async with httpx.AsyncClient() as raw:
            answer = await raw.get(f"{base_url}/wxa/get_qrcode", params={"access_token": token})
    assert Image.open(io.BytesIO(image)).format == "JPEG"
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["content-disposition"] == 'attachment; filename="QRCode.jpg"'
    assert answer.headers["cache-control"] == "no-cache, must-revalidate"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert state.online is not None and emu.applied[(APPID, "release")] == 1


async def test_server_survives_garbage() -> None:
    emu, _, token = make_emulator()
    async with running_server(emu, max_body_bytes=4096) as base_url, httpx.AsyncClient(
        base_url=base_url
    ) as http:
        bad_json = await http.post("/wxa/commit", params={"access_token": token},
                                   content=b"{\"template_id\": 1,")
        assert bad_json.json()["errcode"] == 47001
        unknown = await http.get("/no/such/path")
        assert unknown.status_code == 404 and unknown.json()["errcode"] == 404
        huge = await http.post("/wxa/commit", params={"access_token": token},
                               content=b"x" * 10_000)
        assert huge.status_code == 413 and huge.json()["errcode"] == 47001
        put = await http.put("/wxa/commit", params={"access_token": token}, content=b"{}")
        assert put.status_code == 405
        binary = await http.post("/wxa/submit_audit", params={"access_token": token},
                                 content=bytes(range(256)))
        assert binary.json()["errcode"] == 47001
        no_token = await http.get("/wxa/get_page")
        assert no_token.json()["errcode"] == 41001
        for answer in (bad_json, unknown, huge, put, binary, no_token):
            assert "Traceback" not in answer.text
        assert (await http.get("/wxa/get_page", params={"access_token": token})).json()[
            "errcode"] == 86001  # still serving


async def test_dropped_connection_over_http() -> None:
    emu, state, token = make_emulator()
    emu.faults.add("drop", endpoint="commit", after_apply=True)
    emu.faults.add("http_502", endpoint="get_page")
    async with running_server(emu) as base_url, WxaClient(
        StaticTokenProvider({APPID: token}), base_url=base_url, max_retries=0
    ) as client:
        app = client.app(APPID)
        with pytest.raises(WxaTransportError) as dropped:
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        with pytest.raises(WxaTransportError) as bad_gateway:
            await app.get_page()
        assert (await app.get_page()).page_list == PAGES  # the server is fine afterwards
    assert dropped.value.request_sent and bad_gateway.value.status_code == 502
    assert state.trial is not None and emu.applied[(APPID, "commit")] == 1


async def test_encrypted_push_to_a_loopback_callback_url() -> None:
    crypto = MessageCrypto("push-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxc")
    emu, state, token = make_emulator(push_crypto=crypto)
    events: list[Event] = []

    async def on_event(event: Event) -> None:
        events.append(event)

    async with serve_asgi(callback_asgi_app(crypto, on_event)) as callback_url:
        emu.on_push(callback_url + "/callback")
        async with WxaClient(StaticTokenProvider({APPID: token}),
                             transport=FakeTransport(emu)) as client:
            app = client.app(APPID)
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
            await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(APPID, success=False, reason="标题不符")
        await emu.flush_pushes()
    assert emu.push_failures == []
    assert len(events) == 1 and isinstance(events[0], AuditFailEvent)
    assert (events[0].reason, events[0].to_user_name) == ("标题不符", state.original_id)


async def test_plaintext_push_reaches_a_url_and_failures_are_recorded() -> None:
    received: list[tuple[bytes, bytes]] = []

    async def receiver(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        received.append((scope["query_string"], message.get("body", b"")))
        status = 200 if scope["path"] == "/ok" else 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"success"})

    emu, _, token = make_emulator()
    async with serve_asgi(receiver) as url:
        emu.on_push(url + "/ok")
        emu.on_push(url + "/broken")
        emu.add_app("wx2")
        await _submit_and_finish(emu, token)
        await emu.flush_pushes()
    assert [body for _, body in received] == [emu.pushes[0].xml.encode()] * 2
    assert received[0][0] == b""
    assert len(emu.push_failures) == 1 and "HTTP 500" in emu.push_failures[0][1]


async def _submit_and_finish(emu: Emulator, token: str) -> None:
    async with running_server(emu) as base_url, WxaClient(
        StaticTokenProvider({APPID: token}), base_url=base_url
    ) as client:
        app = client.app(APPID)
        await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
        await app.submit_audit(item_list=[ITEM])
        emu.finish_audit(APPID)


async def test_component_tokens_over_http() -> None:
    emu, state, _ = make_emulator()
    emu.set_component("wxcomponent", "SECRET-secret", "ticket@@@SECRET")
    async with running_server(emu) as base_url:
        provider = ComponentTokenProvider(
            component_appid="wxcomponent", component_appsecret="SECRET-secret",
            verify_ticket="ticket@@@SECRET", refresh_tokens={APPID: state.refresh_token},
            base_url=base_url,
        )
        async with provider, WxaClient(provider, base_url=base_url) as client:
            results = await asyncio.gather(
                *(client.app(APPID).get_category() for _ in range(20)))
            emu.expire_tokens(APPID)
            await client.app(APPID).get_category()  # 42001, refreshed once, retried
    assert all(r.category_list for r in results)
    assert emu.calls["api_component_token"] == 1
    assert emu.calls["api_authorizer_token"] == 2


async def test_admin_api_sets_up_a_run_for_other_languages() -> None:
    emu = Emulator()
    async with running_server(emu) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        created = (await http.post("/_emulator/apps", json={"appid": "wxadmin"})).json()
        await http.post("/_emulator/templates", json={"template_id": 7, "pages": ["p/i"]})
        token = created["access_token"]
        commit = await http.post("/wxa/commit", params={"access_token": token}, json={
            "template_id": 7, "ext_json": "{}", "user_version": "v", "user_desc": ""})
        assert commit.json() == {"errcode": 0, "errmsg": "ok"}
        item = {**ITEM, "address": "p/i"}
        await http.post("/wxa/submit_audit", params={"access_token": token},
                        json={"item_list": [item]})
        finished = await http.post("/_emulator/finish_audit", json={"appid": "wxadmin"})
        assert finished.json()["status"] == 0
        assert (await http.post("/_emulator/advance", json={"seconds": 7200})).json()["now"]
        expired = await http.get("/wxa/get_page", params={"access_token": token})
        assert expired.json()["errcode"] == 42001
        state = (await http.get("/_emulator/state", params={"appid": "wxadmin"})).json()
        assert state["trial"]["pages"] == ["p/i"] and "refresh_token" not in state
        await http.post("/_emulator/faults", json={"kind": "busy", "endpoint": "get_page"})
        fresh = (await http.post("/_emulator/tokens", json={"appid": "wxadmin"})).json()
        busy = await http.get("/wxa/get_page", params={"access_token": fresh["access_token"]})
        assert busy.json()["errcode"] == -1
        stats = (await http.get("/_emulator/stats")).json()
        assert stats["faults"] == {"busy": 1} and stats["applied"]["commit"] == 1
        bad = await http.post("/_emulator/tokens", json={"appid": "wxnobody"})
        assert bad.status_code == 400
        assert (await http.post("/_emulator/nothing")).status_code == 404


def test_cli_serves_until_terminated() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "wxa_async.testing.emulator", "--port", str(port), "--apps", "2",
         "--seed", "3"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"wxa_async emulator listening on http://127.0.0.1:{port}"
        base_url = line.split()[-1]
        token = httpx.post(f"{base_url}/_emulator/tokens",
                           json={"appid": "wxemu0000000002"}).json()["access_token"]

        async def call() -> Any:
            async with WxaClient(StaticTokenProvider({"wxemu0000000002": token}),
                                 base_url=base_url) as client:
                app = client.app("wxemu0000000002")
                with pytest.raises(WxaApiError) as info:
                    await app.get_page()
                assert info.value.errcode == 86001
                return await app.get_category()

        assert asyncio.run(call()).category_list
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_cli_rejects_a_bad_fault_rate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wxa_async.testing.emulator", "--fault-rate", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=20, check=False,
    )
    assert result.returncode == 2 and "fault-rate" in result.stderr
