"""The crash test: a rollout worker SIGKILLed again and again, never submitting or
releasing twice.

The emulator runs over HTTP in one subprocess, the worker in another (the CLI's
``rollout run`` through the same code path); the worker is killed at seeded random
moments, and at the worst one (right after the service answered a ``submit_audit`` or
``release``, before the outcome is written), then restarted until it finishes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.rollout.support import db_url
from wxa_async.rollout import RolloutStore

ROOT = Path(__file__).resolve().parents[2]
APPS = 200


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxa_async.testing.emulator", "--port", "0", "--seed", "3",
         "--apps", str(APPS), "--audit-delay", "0", "--audit-fail-rate", "0.1"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    return proc, line.rsplit(" ", 1)[-1].strip()


def admin(base: str, action: str, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{base}/_emulator/{action}", json=body, timeout=30)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def worker(
    store: str, base: str, tokens: Path, crash_after: int | None = None, on: str = "",
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WXA_CRASH_AFTER", None)
    if crash_after is not None:
        env["WXA_CRASH_AFTER"] = str(crash_after)
        env["WXA_CRASH_ON"] = on
    return subprocess.Popen(
        [sys.executable, "-m", "tests.rollout.crash_worker", store, base, str(tokens)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def test_sigkill_at_any_moment_never_submits_or_releases_twice(tmp_path: Path) -> None:
    emulator, base = start_emulator()
    try:
        appids = [f"wxemu{n:010d}" for n in range(1, APPS + 1)]
        tokens = {a: admin(base, "tokens", appid=a)["access_token"] for a in appids}
        tokens_file = tmp_path / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        # Answers lost after the service applied the call, on top of the kills (the
        # first matching rule applies: these come before the latency for all).
        for endpoint in ("submit_audit", "release", "commit"):
            admin(base, "faults", kind="drop", endpoint=endpoint, after_apply=True, times=4)
        admin(base, "faults", kind="busy", endpoint="get_audit_status", times=4)
        # Every answer takes 50 ms (the worker works 4 apps at once): the rollout takes
        # longer than the kill rounds, so each kill lands mid-run.
        admin(base, "faults", kind="latency", latency=0.05, times=None)
        store = db_url(tmp_path)
        rng = random.Random(20261201)
        kills: dict[str, int] = {"random": 0, "submit_audit": 0, "release": 0}
        # Kills at random moments, alternating with kills right after a submit_audit
        # was answered (early rounds) or a release was (late rounds, once apps pass).
        for round_ in range(12):
            on = "random" if round_ % 2 == 0 else "submit_audit" if round_ < 6 else "release"
            after = None if on == "random" else rng.randint(20, 50) if on == "submit_audit" \
                else rng.randint(1, 10)
            proc = worker(store, base, tokens_file, after, on)
            if on == "random":
                time.sleep(rng.uniform(1.5, 3.5))  # imports take most of a second
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            if proc.returncode == -signal.SIGKILL:
                kills[on] += 1
            elif proc.returncode == 0:
                break
        assert sum(kills.values()) >= 10 and kills["submit_audit"] >= 3, kills
        assert kills["release"] >= 1, kills
        final = worker(store, base, tokens_file, None)
        out, _ = final.communicate(timeout=120)
        assert final.returncode == 0, out
        counts = json.loads(out.strip().splitlines()[-1])
        assert set(counts) <= {"released", "rejected"} and sum(counts.values()) == APPS

        rows = _rows(store)
        for appid in appids:
            state = admin(base, "state", appid=appid)
            versions = [a["version"]["user_version"] for a in state["audits"].values()]
            assert versions == ["1.0.0"], (appid, versions)  # submitted exactly once
            released = [v["user_version"] for v in state["releases"]]
            assert len(released) <= 1, (appid, released)  # released at most once
            row = rows[appid]
            audit = state["audits"][str(state["latest_auditid"])]
            assert row["auditid"] == audit["auditid"]
            if row["state"] == "released":
                assert released == ["1.0.0"] and audit["status"] == 0
            else:
                assert row["state"] == "rejected" and released == [] and audit["status"] == 1
        assert admin(base, "stats")["faults"]
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)


def _rows(store: str) -> dict[str, dict[str, Any]]:
    import asyncio

    async def read() -> dict[str, dict[str, Any]]:
        async with await RolloutStore.open(store) as opened:
            page = await opened.apps("r1", limit=None)
        return {row.appid: row.report() for row in page.rows}

    return asyncio.run(read())
