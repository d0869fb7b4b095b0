"""docs/cli.md stays true: every ``wxa-async`` line it shows names a real command and
real options, the exit-code table is :class:`ExitCode`, and the safe lines run."""

from __future__ import annotations

import re
import shlex

import pytest

from wxa_async.cli import ExitCode, main

from .conftest import ROOT

PAGE = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
LINES = [
    line.removeprefix("$ ")
    for block in re.findall(r"```console\n(.*?)```", PAGE, re.S)
    for line in block.splitlines()
    if line.startswith("$ wxa-async")
]
SAFE = {"wxa-async --version", "wxa-async --help", "wxa-async endpoints --json"}


def test_the_page_shows_commands() -> None:
    assert len(LINES) >= 10


@pytest.mark.parametrize("line", LINES)
def test_every_command_line_of_the_page_is_real(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split(line.rstrip("&").strip())[1:]
    if line in SAFE:
        assert main(words) == ExitCode.OK
        return
    command = words[0]
    assert main([command, "--help"]) == ExitCode.OK, f"no command {command!r}"
    help_text = capsys.readouterr().out
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in help_text, f"{command} has no option {option}"


def test_the_exit_code_table_is_the_code() -> None:
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", PAGE, re.M))
    assert sorted(map(int, table)) == sorted(code.value for code in ExitCode)
