"""The README stays true: the quickstart runs as written, the endpoint table is the code's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wxa_async.cli import endpoint_table

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_endpoint_table_is_generated_from_the_endpoint_table() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- endpoints:start -->\n(.*?)\n<!-- endpoints:end -->", text, re.S)
    assert match is not None
    assert match.group(1).strip() == endpoint_table()


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Quickstart"), re.S)
    runnable = [b for b in blocks if "asyncio.run(" in b]
    assert runnable, "the quickstart has a runnable example"
    script = tmp_path / "quickstart.py"
    script.write_text(runnable[0], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(README.parent)}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['pages/index/index', 'pages/detail/detail']"
    assert lines[1] == "2"
    size = (tmp_path / "trial.jpg").stat().st_size
    assert lines[2] == f"trial QR code: {size} bytes"
    assert (tmp_path / "trial.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a real JPEG


@pytest.mark.parametrize("command", ["nox -s demo", "nox"])
def test_the_two_commands_are_in_the_readme_and_ci_runs_the_test_command(command: str) -> None:
    assert f"pip install nox && {command} " in _section("The two commands")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m nox\n" in ci and "-m nox -s demo" in ci
