"""The README's main job: a rollout of a fleet on the emulator, crash included."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from wxa_async.testing import Emulator, run_demo


@pytest.mark.parametrize("transport", ["httpx", "aiohttp", "fake"])
async def test_demo_rolls_out_and_never_submits_or_releases_twice(
    transport: str, tmp_path: Path,
) -> None:
    emu = Emulator(seed=3)
    out = io.StringIO()
    report = await run_demo(apps=30, fault_rate=0.05, seed=3, transport=transport, out=out,
                            emulator=emu, report_path=tmp_path / "report.csv")

    assert report.ok, out.getvalue()
    assert report.submitted_twice == [] and report.released_twice == []
    assert report.restarts == 1 and report.waited_for_quota > 0 and report.pushes_lost > 0
    assert sum(report.faults.values()) > 0  # faults were really injected
    # The report file matches the service's state, app by app.
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert len(rows) == 30
    for row in rows:
        state = emu.app(row["appid"])
        audits = [a.version.user_version for a in state.audits.values()]
        assert audits.count("1.1.0") <= 1
        online = state.online
        assert online is not None
        if row["state"] == "released":
            assert online.user_version == "1.1.0"
        else:
            assert online.user_version == "1.0.0"  # still the old version
    text = out.getvalue()
    assert "the worker is killed" in text and "fully released" in text
    assert "released twice: 0" in text


def test_the_readme_command_prints_a_summary() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wxa_async", "demo", "--apps", "12", "--seed", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fully released" in result.stdout and "report:" in result.stdout
