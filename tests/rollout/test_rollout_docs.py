"""docs/rollouts.md as written: every Python block runs (one chain, as the page's
``continue`` directives say) and prints what its ``# -> ...`` comments say; the TOML
block is a valid plan file; every shell line runs through the CLI against the
emulator over HTTP with that plan."""

from __future__ import annotations

import ast
import inspect
import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.rollout.test_rollout_crash import admin, start_emulator
from wxa_async.cli._rollout import app
from wxa_async.rollout import load_plan

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rollouts.md"
FENCE = re.compile(r"```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)
EXPECTED = re.compile(r"#\s*->\s*(?P<text>.*?)\s*$")


def fenced(lang: str) -> list[tuple[int, str]]:
    text = PAGE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start("code")) + 1, m["code"])
            for m in FENCE.finditer(text) if m["lang"] == lang]


async def test_python_blocks_print_what_they_say(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = fenced("python")
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "__docs__"}
    expected: list[str] = []
    for line, code in blocks:
        expected += [m["text"] for raw in code.splitlines() if (m := EXPECTED.search(raw))]
        compiled = compile("\n" * (line - 1) + code, str(PAGE), "exec",
                           flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)  # the page's own examples
        if inspect.iscoroutine(result):
            await result
    assert capsys.readouterr().out.splitlines() == expected


def test_the_plan_file_and_the_shell_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ((_, toml),) = fenced("toml")
    ((_, shell),) = fenced("sh")
    monkeypatch.chdir(tmp_path)
    Path("plan.toml").write_text(toml, encoding="utf-8")
    appids = ["wxemu0000000001", "wxemu0000000002"]
    Path("apps.txt").write_text("\n".join(appids) + "\n")
    plan = load_plan("plan.toml")
    assert plan.appids == tuple(appids) and plan.release.stages == (10, 50, 100)
    assert json.loads(plan.ext_json_for(appids[1]))["ext"] == {"city": "Shanghai"}

    emulator, base = start_emulator()
    try:
        tokens = {a: admin(base, "tokens", appid=a)["access_token"] for a in appids}
        env = {"WXA_ACCESS_TOKENS": json.dumps(tokens), "WXA_BASE_URL": base}
        runner = CliRunner()
        outputs = []
        for line in shell.strip().splitlines():
            argv = shlex.split(line.split("#", 1)[0])
            assert argv[:2] == ["wxa-async", "rollout"], line
            if argv[2] == "run":  # the emulator's audits are instant: poll at once
                argv += ["--poll-interval", "0.05"]
            result = runner.invoke(app, argv[2:], env=env)
            assert result.exit_code == 0, (line, result.output)
            outputs.append(result.output)
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)
    assert "spring-sale finished: 2/2 done" in outputs[0]
    assert json.loads(outputs[1])["counts"] == {"released": 2}
    rows = Path("report.csv").read_text().splitlines()
    assert rows[0].startswith("appid,state") and len(rows) == 3
