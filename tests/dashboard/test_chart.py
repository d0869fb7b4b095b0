"""The progress chart: occupancy replayed from the transition log, drawn as SVG."""

from __future__ import annotations

import re
from pathlib import Path

from wxa_async.rollout import RolloutStore

from ._support import T0, dashboard_client, populate

APPIDS = [f"wxchart{i:03d}" for i in range(30)]
TARGETS = {**{a: "released" for a in APPIDS[:10]}, **{a: "gray" for a in APPIDS[10:15]},
           **{a: "rejected" for a in APPIDS[15:20]}, **{a: "failed" for a in APPIDS[20:22]},
           **{a: "under_audit" for a in APPIDS[22:27]}}


async def test_occupancy_over_time_matches_the_store(tmp_path: Path) -> None:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        await populate(store, APPIDS, TARGETS)
        summary = await store.summary("r1")
        assert summary is not None
        async with dashboard_client(store) as client:
            chart = (await client.get("/api/rollouts/r1/chart")).json()
            svg = (await client.get("/rollouts/r1")).text
    times, series = chart["times"], chart["series"]
    assert times[0] == T0 and times == sorted(times)
    # Every app is somewhere at every moment, and nowhere twice.
    assert all(sum(values[i] for values in series.values()) == 30 for i in range(len(times)))
    assert {s: v[0] for s, v in series.items() if v[0]} == {"pending": 30}
    assert {s: v[-1] for s, v in series.items() if v[-1]} == summary.counts
    # One step a second: by the end of the slice holding the step at T0 + 2, the 27
    # apps that move are past "committed".
    after_two = min(i for i, t in enumerate(times) if t > T0 + 2)
    assert series["privacy_checked"][after_two] == 25 and series["failed"][after_two] == 2
    assert series.get("committed", [0] * len(times))[after_two] == 0
    assert chart["marks"] == [{"at": T0 + 5, "label": "gray 10%"}]
    polygons = re.findall(r'<polygon class="st-([a-z_]+)"', svg)
    assert set(polygons) == {s for s, v in series.items() if any(v)}
    legend = svg[svg.index('<ul class="legend"'):]
    for state in ("released", "gray", "rejected", "failed", "under audit", "pending"):
        assert f"</span>{state}</li>" in legend  # every colour has its name beside it
    assert "gray 10%</text>" in svg


async def test_a_rollout_with_no_transitions_yet(tmp_path: Path) -> None:
    async with await RolloutStore.open(f"sqlite:///{tmp_path / 'r.db'}") as store, \
            dashboard_client(store) as client:
        assert (await client.get("/api/rollouts")).json() == {"rollouts": []}
        assert "No rollout in this store yet" in (await client.get("/")).text
        missing = await client.get("/rollouts/none")
    assert missing.status_code == 404 and "There is no rollout none" in missing.text
