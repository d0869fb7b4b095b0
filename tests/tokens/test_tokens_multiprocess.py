"""Several processes, one Redis: each authorizer token is refreshed once in all of them.

The workers are real processes talking real HTTP to a loopback stand-in for the two
component-token endpoints, with a real redis-server between them.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import redis

from tests.support.tokens import (  # noqa: F401  (the fixtures are used by name)
    StandInServer,
    TokenService,
    redis_server_fixture,
    redis_url_fixture,
    start_worker,
)

WORKERS = 4
APPS = [f"wxapp{i:04d}" for i in range(100)]
CALLS_PER_APP = 5  # per worker, all gathered at once


def _summary(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return dict(json.loads(out.splitlines()[-1]))


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + (proc.stderr.read() if proc.stderr else "")


def test_four_processes_refresh_each_app_exactly_once(redis_url: str, tmp_path: Path) -> None:
    service = TokenService(delay=0.002)
    go = tmp_path / "go"
    with StandInServer(service) as server:
        procs = [
            start_worker(server.base_url, redis_url, APPS, calls=CALLS_PER_APP, go=go)
            for _ in range(WORKERS)
        ]
        try:
            for proc in procs:
                _wait_ready(proc)
            go.touch()  # all workers start gathering together
            summaries = [_summary(proc) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    assert [s["failures"] for s in summaries] == [[]] * WORKERS
    assert sum(int(str(s["calls"])) for s in summaries) == WORKERS * len(APPS) * CALLS_PER_APP
    assert service.component_calls == 1
    assert dict(service.authorizer_calls) == dict.fromkeys(APPS, 1)
    # every process got the one token that was fetched
    for summary in summaries:
        assert summary["tokens"] == {a: [f"atoken-{a}-1"] for a in APPS}


def test_a_holder_that_dies_mid_refresh_blocks_others_only_until_the_lock_expires(
    redis_url: str,
) -> None:
    service = TokenService()
    service.hang.add("wxdead")  # the first refresh never gets its answer
    lock_key = "lock:wxa:wxcomponent:authorizer_access_token:wxdead"
    raw = redis.Redis.from_url(redis_url)
    with StandInServer(service) as server:
        dying = start_worker(server.base_url, redis_url, ["wxdead"], lock_ttl=1.0)
        survivor = None
        try:
            deadline = time.monotonic() + 30  # a guard against hanging, not a timing
            while service.authorizer_calls["wxdead"] == 0:
                assert time.monotonic() < deadline and dying.poll() is None
                time.sleep(0.01)
            dying.kill()  # mid-refresh, holding the lock
            dying.communicate()
            ttl_ms = raw.pttl(lock_key)
            assert isinstance(ttl_ms, int) and 0 < ttl_ms <= 1000  # it will expire
            service.hang.clear()
            survivor = start_worker(server.base_url, redis_url, ["wxdead"], lock_ttl=1.0)
            summary = _summary(survivor)
        finally:
            raw.close()
            for proc in (dying, survivor):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    assert summary["failures"] == []
    assert summary["tokens"] == {"wxdead": ["atoken-wxdead-2"]}
    assert service.authorizer_calls["wxdead"] == 2
