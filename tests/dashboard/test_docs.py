"""The dashboard guide's examples, run as written."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from wxa_async.dashboard import serve
from wxa_async.rollout import RolloutStore

from ._support import populate

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


async def _fleet(path: Path) -> None:
    async with await RolloutStore.open(f"sqlite:///{path}") as store:
        await populate(store, ["wxdoc01", "wxdoc02", "wxdoc03"],
                       {"wxdoc01": "failed", "wxdoc02": "failed", "wxdoc03": "released"},
                       {"wxdoc01": {"errcode": 86002, "errmsg": "not init nickname"},
                        "wxdoc02": {"errcode": 85013, "errmsg": "invalid ext"}},
                       name="spring-1.1.0")


async def test_the_json_api_example(tmp_path: Path) -> None:
    [example] = [b for b in _blocks("python") if "httpx.get(" in b]
    await _fleet(tmp_path / "r.db")
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(f"sqlite:///{tmp_path / 'r.db'}", port=0,
                                       on_ready=ready.set_result))
    try:
        base = await asyncio.wait_for(ready, 30)
        script = tmp_path / "api.py"
        script.write_text(example.replace("http://127.0.0.1:8080/", base), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["wxdoc01 not init nickname"]


async def test_the_mount_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = [b for b in _blocks("python") if "Mount(" in b]
    await _fleet(tmp_path / "rollouts.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WXA_DASHBOARD_TOKEN", "doc-token")
    namespace: dict[str, object] = {}
    exec(compile(example, str(GUIDE), "exec"), namespace)
    app = namespace["app"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                                 base_url="http://host") as client:
        refused = await client.get("/rollouts/api/rollouts")
        listed = await client.get("/rollouts/api/rollouts",
                                  headers={"Authorization": "Bearer doc-token"})
        page = await client.get("/rollouts/rollouts/spring-1.1.0",
                                headers={"Authorization": "Bearer doc-token"})
    assert refused.status_code == 401
    assert [r["name"] for r in listed.json()["rollouts"]] == ["spring-1.1.0"]
    assert 'href="/rollouts/rollouts/spring-1.1.0/apps/wxdoc01"' in page.text
    await namespace["dashboard"].aclose()  # type: ignore[attr-defined]


def test_the_refusal_shown_in_the_guide(tmp_path: Path) -> None:
    from wxa_async.dashboard._command import serve_command

    [shown] = [b for b in _blocks("text") if "--host 0.0.0.0" in b]
    command, *expected = shown.strip().splitlines()
    args = command.removeprefix("$ wxa-async rollout serve ").split()
    app = typer.Typer()
    app.command()(serve_command)
    result = CliRunner().invoke(app, args, env={"WXA_DASHBOARD_TOKEN": None})
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == " ".join(" ".join(expected).split())
