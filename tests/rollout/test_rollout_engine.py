"""The rollout engine against the emulator in process, on its virtual clock (SQLite)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from tests.rollout.support import (
    EmulatorClock,
    db_url,
    fast,
    fleet,
    plan,
    scripted_fleet,
)
from wxa_async.push import parse_event
from wxa_async.rollout import (
    AppStatus,
    ReleasePolicy,
    Rollout,
    RolloutState,
)
from wxa_async.testing import Emulator, Push

S = AppStatus


def assert_once(emu: Emulator, appids: list[str]) -> None:
    """No app's version was submitted for audit twice or released twice."""
    for appid in appids:
        state = emu.app(appid)
        versions = Counter(a.version.user_version for a in state.audits.values())
        assert all(n == 1 for n in versions.values()), (appid, versions)
        released = Counter(v.user_version for v in state.releases)
        assert all(n == 1 for n in released.values()), (appid, released)


async def test_releases_every_app_and_logs_each_transition(tmp_path: Any) -> None:
    emu, client, ids = fleet(30, fail_rate=0.2, seed=3)
    async with client, await Rollout.open(db_url(tmp_path), client, plan(ids),
                                          clock=EmulatorClock(emu), options=fast()) as rollout:
        summary = await rollout.run()
        assert summary.state == RolloutState.FINISHED and summary.finished
        rows = {row.appid: row for row in await rollout.report()}
        log = await rollout.store.transitions(rollout.name, limit=10_000)
    assert set(summary.counts) == {"released", "rejected"}
    assert summary.counts["rejected"] > 0
    for appid, row in rows.items():
        state = emu.app(appid)
        audit = state.latest_audit
        assert audit is not None and row.auditid == audit.auditid
        assert audit.version.ext_json == f'{{"extAppid": "{appid}"}}'
        if row.state == S.RELEASED:
            assert state.online is not None and state.online.user_version == "1.0.0"
            assert row.releases == 1 and row.submits == 1
        else:
            assert row.state == S.REJECTED and state.online is None
            assert row.reason == audit.reason
    assert_once(emu, ids)
    path = [t.to_state for t in log if t.appid == ids[0]]
    assert path[:5] == ["pending", "committed", "privacy_checked", "under_audit",
                        path[4]]
    assert path[-1] == str(rows[ids[0]].state)


async def test_resume_by_name_refuses_a_different_plan(tmp_path: Any) -> None:
    emu, client, ids = fleet(3)
    url = db_url(tmp_path)
    async with client:
        async with await Rollout.open(url, client, plan(ids), clock=EmulatorClock(emu),
                                      options=fast()):
            pass
        other = plan(ids, user_version="2.0.0")
        with pytest.raises(ValueError, match="different plan"):
            await Rollout.open(url, client, other)
        async with await Rollout.open(url, client, name="r1") as again:
            assert again.plan.appids == tuple(ids)


async def test_quota_is_never_overdrawn_and_waiting_apps_go_when_it_returns(
    tmp_path: Any,
) -> None:
    emu, client, ids = fleet(25, delay=600)
    emu.limits.audit_submissions_per_month = 10
    async with client, await Rollout.open(
        db_url(tmp_path), client, plan(ids, quota_reserve=2), clock=EmulatorClock(emu),
        options=fast(quota_recheck=86400.0),
    ) as rollout:
        summary = await rollout.run()
        log = await rollout.store.transitions(rollout.name, limit=10_000)
    assert summary.counts == {"released": 25}
    assert emu.calls["submit_audit"] == 25  # never refused with 85085
    times = sorted(emu.app(a).latest_audit.submitted_at for a in ids)  # type: ignore[union-attr]
    for i, start in enumerate(times):  # at most limit - reserve in any 7 days (and month)
        assert sum(1 for t in times[i:] if t < start + 7 * 86400) <= 8
    waited = {t.appid for t in log if t.to_state == "waiting_for_quota"}
    assert len(waited) == 17
    assert_once(emu, ids)


async def test_privacy_scan_running_is_waited_out_and_revoked_apps_fail(tmp_path: Any) -> None:
    emu, client, ids, wire = scripted_fleet(6, delay=60)
    wire.script[("wxa/security/get_code_privacy_info", ids[0])] = [61039] * 3
    wire.script[("wxa/submit_audit", ids[1])] = [61039, 61039]
    wire.script[("wxa/commit", ids[2])] = [61003]
    wire.script[("wxa/get_auditstatus", ids[3])] = [61023]
    async with client, await Rollout.open(db_url(tmp_path), client, plan(ids),
                                          clock=EmulatorClock(emu),
                                          options=fast(max_attempts=2)) as rollout:
        summary = await rollout.run()
        rows = {row.appid: row for row in await rollout.report()}
        failures = await rollout.store.failures(rollout.name)
    assert summary.counts == {"released": 4, "failed": 2}
    assert rows[ids[0]].state == rows[ids[1]].state == S.RELEASED  # 61039: never a failure
    for appid, code in ((ids[2], 61003), (ids[3], 61023)):
        assert rows[appid].state == S.FAILED
        assert rows[appid].errcode == code and rows[appid].retryable is False
    assert failures == {61003: 1, 61023: 1}
    assert emu.app(ids[2]).latest_audit is None  # no quota spent on a failed commit
    assert_once(emu, ids)


async def test_lost_answers_are_reconciled_never_repeated(tmp_path: Any) -> None:
    emu, client, ids = fleet(40, delay=120, seed=5)
    # Answers lost after the service applied the mutation, and busy answers before it.
    emu.faults.set_rate(0.25, seed=11, after_apply_rate=0.6,
                        kinds=("drop", "busy", "http_502"))
    async with client, await Rollout.open(db_url(tmp_path), client, plan(ids),
                                          clock=EmulatorClock(emu),
                                          options=fast(max_attempts=30)) as rollout:
        summary = await rollout.run()
        log = await rollout.store.transitions(rollout.name, limit=100_000)
    assert summary.counts == {"released": 40}
    assert sum(emu.faults.injected.values()) > 20
    assert any("reconciled" in (t.detail or "") for t in log)
    assert_once(emu, ids)


async def test_pushes_lost_duplicated_and_out_of_order(tmp_path: Any) -> None:
    emu, client, ids = fleet(30, delay=3600, fail_rate=0.2, seed=8)
    rng = random.Random(4)
    held: list[Push] = []
    results: list[bool] = []
    url = db_url(tmp_path)
    async with client, await Rollout.open(
        url, client, plan(ids), clock=EmulatorClock(emu),
        options=fast(poll_interval=5 * 86400.0),  # polling alone would take days
    ) as rollout:

        async def deliver(push: Push) -> None:
            event = parse_event(push.xml)
            roll = rng.random()
            if roll < 0.3:
                return  # lost: polling must find it
            if roll < 0.5:
                held.append(push)  # delivered late, after the next one
                return
            results.append(await rollout.handle_event(event, appid=push.appid))
            results.append(await rollout.handle_event(event, appid=push.appid))  # duplicate
            while held:
                late = held.pop()
                results.append(await rollout.handle_event(parse_event(late.xml), late.appid))

        emu.on_push(deliver)
        summary = await rollout.run()
        log = await rollout.store.transitions(rollout.name, limit=10_000)
        # A push for an app whose audit is over changes nothing.
        stale = parse_event(emu.pushes[0].xml)
        assert not await rollout.handle_event(stale, appid=emu.pushes[0].appid)
    assert summary.finished and set(summary.counts) <= {"released", "rejected"}
    details = Counter((t.detail or "").rsplit("(", 1)[-1] for t in log
                      if (t.detail or "").startswith("audit "))
    assert details["push)"] > 0 and details["poll)"] > 0
    assert results.count(True) > 0 and results.count(False) > 0  # duplicates did nothing
    assert_once(emu, ids)
    for row_appid in ids:
        state = emu.app(row_appid)
        assert state.latest_audit is not None
        assert (state.online is not None) == (state.latest_audit.status == 0)


async def previous_release(emu: Emulator, client: Any, ids: list[str], tmp_path: Any) -> None:
    """Release 0.9.0 everywhere first, so the fleet has an online version."""
    first = plan(ids, name="r0", user_version="0.9.0")
    async with await Rollout.open(db_url(tmp_path, "r0.db"), client, first,
                                  clock=EmulatorClock(emu), options=fast()) as r0:
        assert (await r0.run()).counts == {"released": len(ids)}


async def test_staged_release_with_waits_and_a_health_check(tmp_path: Any) -> None:
    emu, client, ids = fleet(8, delay=60)
    async with client:
        await previous_release(emu, client, ids[:6], tmp_path)  # two apps have none
        seen: list[tuple[str, int]] = []

        async def healthy(appid: str, percentage: int) -> bool:
            seen.append((appid, percentage))
            return not (appid == ids[0] and percentage == 50)

        staged = plan(ids, release=ReleasePolicy(mode="staged", stages=(10, 50),
                                                 stage_wait=86400, health_check=healthy))
        async with await Rollout.open(db_url(tmp_path), client, staged,
                                      clock=EmulatorClock(emu), options=fast()) as rollout:
            summary = await rollout.run()
            log = await rollout.store.transitions(rollout.name, limit=10_000)
    assert summary.counts == {"released": 7, "failed": 1}
    steps = [t for t in log if t.appid == ids[1] and t.to_state in ("gray", "released")]
    assert [t.detail for t in steps] == ["gray release starts", "gray 10%", "gray 50%",
                                         "released"]
    times = [t.at for t in steps[1:]]
    assert times[1] - times[0] >= 86400 and times[2] - times[1] >= 86400
    assert emu.app(ids[1]).online.user_version == "1.0.0"  # type: ignore[union-attr]
    assert emu.app(ids[0]).online.user_version == "0.9.0"  # type: ignore[union-attr]
    assert emu.app(ids[0]).gray_plan.status == 4  # reverted after the failed check
    direct = [t.detail for t in log if t.appid == ids[7] and t.to_state == "releasing"]
    assert direct == ["no online version: released in full"]
    assert (ids[1], 10) in seen and (ids[1], 50) in seen
    assert_once(emu, ids)


async def test_approval_holds_passed_apps_until_approved(tmp_path: Any) -> None:
    emu, client, ids = fleet(5, delay=60)
    held = plan(ids, release=ReleasePolicy(mode="approval"))
    async with client, await Rollout.open(db_url(tmp_path), client, held,
                                          clock=EmulatorClock(emu), options=fast()) as rollout:
        summary = await rollout.run()
        assert summary.counts == {"passed": 5} and summary.state == RolloutState.ACTIVE
        assert all(emu.app(a).online is None for a in ids)
        assert await rollout.approve()
        summary = await rollout.run()
    assert summary.counts == {"released": 5}


async def test_cancel_withdraws_open_audits_and_stops_the_rest(tmp_path: Any) -> None:
    emu, client, ids = fleet(12, delay=5 * 86400)
    emu.limits.audit_submissions_per_month = 8  # four apps wait for quota
    async with client, await Rollout.open(db_url(tmp_path), client, plan(ids),
                                          clock=EmulatorClock(emu),
                                          options=fast(quota_recheck=86400)) as rollout:

        def pause_when_audits_run(summary: Any) -> None:
            if summary.counts.get("under_audit", 0) == 8:
                pauser.append(True)

        pauser: list[bool] = []
        # Pause from outside once 8 audits are under way (the progress hook sees it).
        original = rollout.store.claim

        async def claim(*args: Any, **kwargs: Any) -> Any:
            if pauser:
                await rollout.pause()
            return await original(*args, **kwargs)

        rollout.store.claim = claim  # type: ignore[method-assign]
        summary = await rollout.run(on_progress=pause_when_audits_run)
        assert summary.state == RolloutState.PAUSED
        assert summary.counts == {"under_audit": 8, "waiting_for_quota": 4}
        rollout.store.claim = original  # type: ignore[method-assign]
        assert await rollout.cancel()
        summary = await rollout.run()
    assert summary.state == RolloutState.CANCELLED
    assert summary.counts == {"withdrawn": 8, "cancelled": 4}
    assert all(emu.app(a).online is None for a in ids)
    assert sum(1 for a in ids if emu.app(a).undo_times) == 8


async def test_rollback_reverts_released_apps(tmp_path: Any) -> None:
    emu, client, ids = fleet(6, delay=60)
    async with client:
        await previous_release(emu, client, ids, tmp_path)
        async with await Rollout.open(db_url(tmp_path), client, plan(ids),
                                      clock=EmulatorClock(emu), options=fast()) as rollout:
            assert (await rollout.run()).counts == {"released": 6}
            assert all(emu.app(a).online.user_version == "1.0.0"  # type: ignore[union-attr]
                       for a in ids)
            assert await rollout.rollback()
            summary = await rollout.run()
    assert summary.state == RolloutState.ROLLED_BACK
    assert summary.counts == {"rolled_back": 6}
    assert all(emu.app(a).online.user_version == "0.9.0"  # type: ignore[union-attr]
               for a in ids)
    assert all(emu.applied[(a, "revert_code_release")] == 1 for a in ids)
