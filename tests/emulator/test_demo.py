"""The README's main job: the bulk release pipeline against the emulator."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from wxa_async.testing import Emulator, run_demo

STEPS = ["commit", "submit_audit", "audit result (push)", "release", "gray_release 10%",
         "gray_release 100%"]


@pytest.mark.parametrize("transport", ["fake", "httpx", "aiohttp"])
async def test_demo_runs_the_pipeline_and_never_applies_a_mutation_twice(
    transport: str,
) -> None:
    emu = Emulator(seed=3)
    out = io.StringIO()
    report = await run_demo(apps=40, fault_rate=0.05, seed=3, transport=transport, out=out,
                            emulator=emu)

    assert [step.name for step in report.steps] == STEPS
    for step in report.steps:  # every app is accounted for in every step
        assert step.ok + step.recovered + sum(step.failed.values()) == step.attempted
    assert report.steps[0].attempted == 40
    assert sum(report.faults.values()) > 0  # faults were really injected
    # What the summary claims matches the service's state.
    fully = [a for a, s in emu.apps.items() if s.gray_plan.status == 3]
    assert report.released_full == len(fully) > 30
    assert report.ok and all(step.untyped == 0 for step in report.steps)
    for (appid, endpoint), count in emu.applied.items():
        limit = 2 if endpoint == "gray_release" else 1
        assert count <= limit, (appid, endpoint, count)
    text = out.getvalue()
    assert "p50 ms" in text and "p99 ms" in text and "gray_release 100%" in text


async def test_audit_results_arrive_as_decrypted_push_events() -> None:
    emu = Emulator(seed=5)
    report = await run_demo(apps=30, fault_rate=0.0, seed=5, out=io.StringIO(), emulator=emu)
    audit = report.steps[2]
    failed_pushes = audit.failed.get("weapp_audit_fail", 0)
    assert audit.ok + failed_pushes == 30 and audit.failed.get("no push", 0) == 0
    # Each app's push was a real encrypted envelope, as WeChat sends them.
    assert all("<Encrypt>" in push.body for push in emu.pushes)
    assert report.released_full == audit.ok


def test_the_readme_command_prints_a_summary() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wxa_async", "demo", "--apps", "12", "--seed", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "fully released" in result.stdout and "errcodes" in result.stdout
