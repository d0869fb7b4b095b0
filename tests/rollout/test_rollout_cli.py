"""``wxa-async rollout ...`` against the emulator over HTTP, and the TOML plan file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.rollout.support import db_url
from tests.rollout.test_rollout_crash import admin, start_emulator
from wxa_async.cli._rollout import app
from wxa_async.errors import WxaValidationError
from wxa_async.rollout import load_plan

PLAN = """
name = "spring-sale"
template_id = 1
user_version = "2.0.0"
user_desc = "spring sale"
appids_file = "apps.txt"
ext_json = '{"extAppid": "{appid}", "ext": {"shop": "{shop}"}}'

[ext_vars.wxemu0000000001]
shop = "Beijing"

[[submit.item_list]]
address = "pages/index/index"
tag = "工具"
first_class = "工具"
second_class = "备忘录"
first_id = 1
second_id = 2
title = "首页"

[release]
mode = "immediate"
"""


def write_plan(tmp_path: Path, text: str = PLAN, apps: int = 5) -> Path:
    (tmp_path / "apps.txt").write_text(
        "# one appid a line\n" + "".join(f"wxemu{n:010d}\n" for n in range(1, apps + 1)))
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_file_fills_placeholders_and_refuses_credentials(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, PLAN.replace(
        'shop = "Beijing"', 'shop = "Bei\\"jing"')))
    assert plan.appids[:2] == ("wxemu0000000001", "wxemu0000000002")
    assert json.loads(plan.ext_json_for("wxemu0000000001")) == {
        "extAppid": "wxemu0000000001", "ext": {"shop": 'Bei"jing'}}
    with pytest.raises(WxaValidationError, match=r"no value for \{shop\}"):
        plan.ext_json_for("wxemu0000000002")
    with pytest.raises(WxaValidationError, match="no credentials"):
        load_plan(write_plan(tmp_path, PLAN + '\nsecret = "x"\n'))
    with pytest.raises(WxaValidationError, match="unknown plan keys: colour"):
        load_plan(write_plan(tmp_path, 'colour = "red"\n' + PLAN))
    staged = load_plan(write_plan(tmp_path, PLAN.replace(
        'mode = "immediate"', 'mode = "staged"\nstages = [5, 30]\nstage_wait = 3600')))
    assert staged.release.stages == (5, 30, 100)


def test_run_status_report_and_operator_commands(tmp_path: Path) -> None:
    emulator, base = start_emulator()
    try:
        appids = [f"wxemu{n:010d}" for n in range(1, 6)]
        tokens = {a: admin(base, "tokens", appid=a)["access_token"] for a in appids}
        env = {"WXA_ACCESS_TOKENS": json.dumps(tokens), "WXA_BASE_URL": base}
        store = db_url(tmp_path)
        plan = write_plan(tmp_path, PLAN.replace(', "ext": {"shop": "{shop}"}', ""))
        runner = CliRunner()

        missing = runner.invoke(app, ["run", str(plan), "--store", store],
                                env={"WXA_ACCESS_TOKENS": ""})
        assert missing.exit_code == 1 and "no credentials" in missing.output

        result = runner.invoke(app, ["run", str(plan), "--store", store, "--json",
                                     "--poll-interval", "0.05"], env=env)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert summary["state"] == "finished" and summary["total"] == 5
        assert set(summary["counts"]) <= {"released", "rejected"}
        for value in tokens.values():
            assert value not in result.output

        status = runner.invoke(app, ["status", "spring-sale", "--store", store, "--json"])
        data = json.loads(status.output)
        assert [row["appid"] for row in data["apps"]] == appids
        plain = runner.invoke(app, ["status", "spring-sale", "--store", store])
        assert "spring-sale finished: 5/5 done" in plain.output
        assert all(appid in plain.output for appid in appids)

        out = tmp_path / "report.csv"
        report = runner.invoke(app, ["report", "spring-sale", "--store", store,
                                     "--format", "csv", "-o", str(out)])
        assert report.exit_code == 0
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        assert [(r["appid"], r["state"]) for r in rows] == [
            (row["appid"], row["state"]) for row in data["apps"]]
        as_json = runner.invoke(app, ["report", "spring-sale", "--store", store,
                                      "--format", "json"])
        assert len(json.loads(as_json.output)) == 5
        bad = runner.invoke(app, ["report", "spring-sale", "--store", store, "--format", "xml"])
        assert bad.exit_code == 1

        paused = runner.invoke(app, ["pause", "spring-sale", "--store", store])
        assert "nothing to do" in paused.output  # it is finished
        unknown = runner.invoke(app, ["status", "nope", "--store", store])
        assert unknown.exit_code == 1 and "no rollout named 'nope'" in unknown.output

        # Rollback: released apps have no earlier version here, so the service refuses
        # (87012) and they stay released with the reason on their row.
        back = runner.invoke(app, ["rollback", "spring-sale", "--store", store])
        assert "rollback spring-sale (now rolling_back)" in back.output
        again = runner.invoke(app, ["run", str(plan), "--store", store, "--json"], env=env)
        assert again.exit_code == 0, again.output
        after = json.loads(again.output)
        assert after["state"] == "rolled_back"
        final = json.loads(runner.invoke(
            app, ["status", "spring-sale", "--store", store, "--json"]).output)
        for row in final["apps"]:
            if row["state"] == "released":
                assert row["errcode"] == 87012
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)
