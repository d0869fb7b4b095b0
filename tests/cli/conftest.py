"""The command line as a user runs it: the installed ``wxa-async`` script or
``python -m wxa_async``, in a subprocess, against the emulator served by the CLI itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPID = "wxemu0000000001"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI run: this checkout first on the path, no credentials
    inherited from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXA_")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"  # wide help: no wrapped option names
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def entry_points() -> list[list[str]]:
    """Both ways in: the console script when installed, and ``python -m wxa_async``."""
    commands = [[sys.executable, "-m", "wxa_async"]]
    script = shutil.which("wxa-async", path=str(Path(sys.executable).parent))
    if script is not None:
        commands.insert(0, [script])
    return commands


def run(*args: str, entry: list[str] | None = None, timeout: float = 60,
        **env: str) -> subprocess.CompletedProcess[str]:
    command = [*(entry or [sys.executable, "-m", "wxa_async"]), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=cli_env(**env), cwd=ROOT, check=False)


def admin(base_url: str, action: str, **body: Any) -> dict[str, Any]:
    """The emulator's admin API (setup over HTTP)."""
    request = urllib.request.Request(
        f"{base_url}/_emulator/{action}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # loopback only
        result: dict[str, Any] = json.load(answer)
    return result


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> str:
        """Stop it (SIGTERM) and return what it logged."""
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=20)
        return err


@pytest.fixture
def served() -> Iterator[Served]:
    """``wxa-async emulator --port 0 --apps 2 --json`` in a subprocess; its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wxa_async", "emulator", "--port", "0", "--apps", "2",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no output"
        server = Served(process, json.loads(line)["url"])
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=20)
