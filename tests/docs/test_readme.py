"""The README is a front page that stays true: short, its quickstart prints what it
says, its two commands are what CI runs, and its links lead to pages that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.examples import ROOT, chains, run_chain

README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_readme_is_a_front_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= 15 * 1024
    assert "<!-- endpoints:start -->" not in text  # the endpoint table lives in the docs
    for title in ("The two commands", "Install", "Quickstart", "Features", "Documentation"):
        assert f"\n## {title}\n" in text


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    quickstart = [c for c in chains(README) if "asyncio.run(" in c.blocks[0].code]
    assert quickstart, "the quickstart has a runnable example"
    result = run_chain(quickstart[0], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['pages/index/index', 'pages/detail/detail']"
    assert lines[1] == "2"
    size = (tmp_path / "trial.jpg").stat().st_size
    assert lines[2] == f"trial QR code: {size} bytes"
    assert (tmp_path / "trial.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a real JPEG


def _readme_commands() -> list[str]:
    block = re.search(r"```console\n(.*?)```", _section("The two commands"), re.S)
    assert block is not None
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _ci_commands() -> list[str]:
    lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    return [line.removeprefix("python3 -m ") for line in lines if line.startswith("python3 -m nox")]


def test_the_two_commands_are_what_ci_runs() -> None:
    readme = _readme_commands()
    assert readme == ["pip install nox && nox -s demo", "pip install nox && nox"]
    ran = _ci_commands()
    assert "nox" in ran  # the test command, whole
    # The main job; CI runs a smaller fleet through the same command.
    assert any(c == "nox -s demo" or c.startswith("nox -s demo -- ") for c in ran)


def test_the_test_command_builds_the_docs() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    sessions = re.search(r"nox\.options\.sessions = \[(.*?)\]", noxfile)
    assert sessions is not None and '"docs"' in sessions.group(1)


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(([^)#]+\.md)", README.read_text(
    encoding="utf-8")))))
def test_readme_links_lead_to_pages(link: str) -> None:
    assert (ROOT / link).is_file(), link
