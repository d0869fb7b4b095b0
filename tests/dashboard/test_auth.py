"""The rule: loopback needs no token; anything else does, and then every request
carries it (bearer or basic auth) - the token itself never shows."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wxa_async import WxaValidationError
from wxa_async.dashboard import authorized, create_app, is_loopback, needs_token, serve
from wxa_async.rollout import RolloutStore

from ._support import dashboard_client, populate

TOKEN = "tok-3f9a-secret"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("192.168.1.20", False), ("10.0.0.1", False), ("dash.example.com", False), ("", False),
])
def test_which_hosts_need_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert needs_token(host) is not loopback


@pytest.mark.parametrize(("header", "ok"), [
    (f"Bearer {TOKEN}", True), (f"bearer  {TOKEN} ", True), (basic("ops", TOKEN), True),
    (basic("", TOKEN), True), (f"Bearer {TOKEN}x", False), ("Bearer", False),
    (basic(TOKEN, "nope"), False), ("Basic !!!notbase64", False),
    ("Basic " + base64.b64encode(TOKEN.encode()).decode(), False),  # no colon
    (f"Token {TOKEN}", False), ("", False), (None, False),
])
def test_authorization_header(header: str | None, ok: bool) -> None:
    assert authorized(header, TOKEN) is ok


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RolloutStore]:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as opened:
        await populate(opened, ["wxauth01", "wxauth02"], {"wxauth01": "released"})
        yield opened


async def test_with_a_token_every_request_must_carry_it(store: RolloutStore) -> None:
    async with dashboard_client(store, token=TOKEN) as client:
        for path in ("/", "/rollouts/r1", "/api/rollouts", "/static/dashboard.css",
                     "/rollouts/r1/apps/wxauth01", "/nowhere"):
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert TOKEN not in refused.text
            challenges = refused.headers.get_list("www-authenticate")
            assert challenges[0].startswith("Basic realm=")  # browsers ask for it
            assert any(c.startswith("Bearer") for c in challenges)
        api = await client.get("/api/rollouts")
        assert api.json() == {"error": "a token is required (Bearer, or the password of "
                                       "basic auth)"}
        wrong = await client.get("/api/rollouts", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        by_bearer = await client.get("/api/rollouts",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        by_basic = await client.get("/rollouts/r1",
                                    headers={"Authorization": basic("ops", TOKEN)})
        assert by_bearer.status_code == by_basic.status_code == 200
        assert TOKEN not in by_basic.text and TOKEN not in by_bearer.text
        # Even with the token, the dashboard stays read-only.
        post = await client.post("/api/rollouts", headers={"Authorization": f"Bearer {TOKEN}"})
        assert post.status_code == 405


async def test_no_token_on_loopback(store: RolloutStore) -> None:
    async with dashboard_client(store) as client:
        assert (await client.get("/api/rollouts")).status_code == 200


async def test_serve_refuses_another_host_without_a_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    async with await RolloutStore.open(url):
        pass
    with pytest.raises(WxaValidationError, match="token"):
        await serve(url, host="0.0.0.0", port=0)
    with pytest.raises(WxaValidationError, match="token"):
        await serve(url, host="192.168.1.20", port=0, token="")


def test_bad_options_are_refused_before_serving() -> None:
    with pytest.raises(WxaValidationError, match="empty"):
        create_app("sqlite:///unused.db", token="  ")
    with pytest.raises(WxaValidationError, match="refresh"):
        create_app("sqlite:///unused.db", refresh=0)


def test_the_command_says_why_it_refuses(tmp_path: Path) -> None:
    from wxa_async.cli._rollout import app

    url = f"sqlite:///{tmp_path / 'absent.db'}"
    exposed = CliRunner().invoke(app, ["serve", "--store", url, "--host", "0.0.0.0"],
                                 env={"WXA_DASHBOARD_TOKEN": None})
    assert exposed.exit_code == 2  # ExitCode.USAGE
    assert "reachable from other machines: give a token" in exposed.output
    missing = CliRunner().invoke(app, ["serve", "--store", url])
    assert missing.exit_code == 3  # ExitCode.SETUP
    assert "no rollout store at" in missing.output and not (tmp_path / "absent.db").exists()
    bad = CliRunner().invoke(app, ["serve", "--store", "ftp://x/y"])
    assert bad.exit_code == 3 and "unsupported store URL scheme" in bad.output
    shown = CliRunner().invoke(app, ["serve", "--help"], env={"WXA_DASHBOARD_TOKEN": TOKEN})
    assert shown.exit_code == 0 and "WXA_DASHBOARD_TOKEN" in shown.output
    assert TOKEN not in shown.output


def test_a_password_in_the_store_url_is_never_printed() -> None:
    from wxa_async.dashboard._serve import describe

    shown = describe("postgresql://ops:pg-pass-123@db.internal:5432/rollouts")
    assert "pg-pass-123" not in shown and "db.internal" in shown


def test_registering_the_command_loads_no_web_stack() -> None:
    import subprocess
    import sys

    code = ("import sys, wxa_async.cli._serve; "
            "print(sorted(m for m in ('starlette', 'jinja2', 'uvicorn', 'sqlalchemy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
