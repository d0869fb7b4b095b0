"""The dashboard guide's examples: the mount example does what the guide says, and the
refusal the guide shows is the command's own (tests/docs runs every Python block too)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ._support import docs_store

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)


async def test_the_mount_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = [b for b in _blocks("python") if "Mount(" in b]
    await docs_store(str(tmp_path / "rollouts.db"))
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
    from wxa_async.cli._rollout import app

    [shown] = [b for b in _blocks("text") if "--host 0.0.0.0" in b]
    command, *expected = shown.strip().splitlines()
    args = command.removeprefix("$ wxa-async rollout ").split()
    result = CliRunner().invoke(app, args, env={"WXA_DASHBOARD_TOKEN": None})
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == " ".join(" ".join(expected).split())
