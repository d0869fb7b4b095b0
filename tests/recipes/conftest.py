"""The framework recipes of docs/recipes/ run as written: each page's app is imported from
the page itself and driven over HTTP against the emulator, like WeChat would."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest

from wxa_async import MessageCrypto, StaticTokenProvider, TokenProvider, WxaClient, WxaError
from wxa_async.testing import Emulator, render_event_xml, running_server

ROOT = Path(__file__).resolve().parents[2]
APPID = "wxrecipe00000001"
COMPONENT_APPID = "wxcomponentrecipe"
SECRET = "component-secret-value"
TICKET = "ticket@@@recipe-value"
CALLBACK_TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ITEM = {"address": "pages/index/index", "tag": "工具", "first_class": "工具",
        "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页"}


def need(module: str) -> Any:
    """Import a framework the recipe needs: skipped when missing, but failing under CI
    (the test dependency group installs it)."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def recipe_code(page: str) -> str:
    """The page's first Python block: the recipe's whole app."""
    text = (ROOT / "docs" / "recipes" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, f"{page} has no Python block"
    return blocks[0]


def load_recipe(page: str, tmp_path: Path, name: str) -> ModuleType:
    """Import the page's app as module ``name`` (the environment is set beforehand)."""
    path = tmp_path / f"{name}.py"
    path.write_text(recipe_code(page), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@attrs.define
class Platform:
    """The emulator standing in for WeChat, set up for one third-party platform."""

    emu: Emulator
    url: str
    refresh_token: str
    crypto: MessageCrypto

    def env(self) -> dict[str, str]:
        return {"WXA_BASE_URL": self.url, "WXA_COMPONENT_APPID": COMPONENT_APPID,
                "WXA_COMPONENT_APPSECRET": SECRET, "WXA_CALLBACK_TOKEN": CALLBACK_TOKEN,
                "WXA_CALLBACK_AES_KEY": AES_KEY}

    def ticket_push(self) -> tuple[str, dict[str, str]]:
        xml = render_event_xml({
            "AppId": COMPONENT_APPID, "CreateTime": int(time.time()),
            "InfoType": "component_verify_ticket", "ComponentVerifyTicket": TICKET,
        })
        return self.crypto.build_push(xml, to_user_name=COMPONENT_APPID,
                                      timestamp=int(time.time()), nonce="recipe")


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    emu = Emulator(seed=1)
    emu.add_template(1, ["pages/index/index", "pages/detail/detail"])
    refresh = emu.add_app(APPID).refresh_token
    emu.set_component(COMPONENT_APPID, SECRET, TICKET)
    crypto = MessageCrypto(token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY,
                           appid=COMPONENT_APPID)
    emu.set_push_crypto(crypto)
    async with running_server(emu) as url:
        platform = Platform(emu, url, refresh, crypto)
        for name, value in platform.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("WXA_TOKEN_STORE", raising=False)
        # A version under audit, made the way any caller would.
        token = StaticTokenProvider({APPID: emu.issue_token(APPID)})
        async with WxaClient(token, url) as client:
            app = client.app(APPID)
            await app.commit(1, {"extAppid": APPID}, "1.0.0", "from a recipe")
            await app.submit_audit(item_list=[ITEM])
        yield platform


async def drive(app_url: str, platform: Platform,
                provider: Callable[[], TokenProvider]) -> None:
    """What WeChat and a user do to a platform's web app, checked step by step.

    ``provider`` finds the app's shared token provider once it runs; the test hands it
    the authorizer's refresh token as the platform's authorization flow would."""
    emu = platform.emu
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
        # The verify ticket arrives by push (every ten minutes in real life).
        body, query = platform.ticket_push()
        answer = await http.post("/wechat/callback", params=query, content=body)
        assert (answer.status_code, answer.text) == (200, "success")
        again = await http.post("/wechat/callback", params=query, content=body)
        assert (again.status_code, again.text) == (200, "success")  # a repeat, acked
        forged = {**query, "msg_signature": "0" * 40}
        refused = await http.post("/wechat/callback", params=forged, content=body)
        assert refused.status_code == 400

        shared = provider()
        await shared.set_refresh_token(APPID, platform.refresh_token)  # type: ignore[attr-defined]
        versions = await asyncio.gather(*(http.get(f"/apps/{APPID}/version") for _ in range(8)))
        for answer in versions:
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"trial": "1.0.0", "online": None}
        # One provider and one client served every request: one token each, not eight.
        calls = emu.stats()["calls"]
        assert calls["api_component_token"] == 1 and calls["api_authorizer_token"] == 1

        # The audit result is pushed to the app's own callback URL, $APPID$ in the path.
        emu.on_push(f"{app_url}/wechat/$APPID$/callback")
        emu.finish_audit(APPID, success=True)
        await emu.flush_pushes()
        assert emu.stats()["push_failures"] == 0
        assert (await http.get(f"/apps/{APPID}/audit")).json() == {"result": "passed"}

        released = await http.post(f"/apps/{APPID}/release")
        assert released.status_code == 200, released.text
        assert (await http.get(f"/apps/{APPID}/version")).json()["online"] == "1.0.0"
        again = await http.post(f"/apps/{APPID}/release")  # nothing new to release
        assert again.status_code == 409 and isinstance(again.json()["errcode"], int)


async def assert_closed(client: WxaClient) -> None:
    """The app's shutdown closed the client it opened."""
    with pytest.raises(WxaError, match="closed"):
        await client.app(APPID).get_page()
