"""``wxa-async`` through its real entry points: version, help, call, exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import wxa_async
from wxa_async import ENDPOINTS
from wxa_async.cli import ExitCode, endpoint_table, main

from .conftest import APPID, Served, admin, entry_points, run


@pytest.fixture
def invoke(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """``main(args)`` in this process (the function the script runs): exit code,
    stdout, stderr. Cheaper than a subprocess for the many usage checks."""

    def invoke(*args: str, **env: str) -> tuple[int, str, str]:
        for name in [n for n in os.environ if n.startswith("WXA_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize("entry", entry_points(), ids=lambda e: Path(e[-1]).name)
def test_version_is_the_package_version(entry: list[str]) -> None:
    result = run("--version", entry=entry)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wxa-async {wxa_async.__version__}"


def test_help_names_the_program_the_commands_and_the_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: wxa-async" in result.stdout
    for command in ("demo", "endpoints", "emulator", "call"):
        assert f" {command} " in result.stdout
    assert "--install-completion" in result.stdout  # shell completion
    assert "Exit codes" in result.stdout
    assert "``" not in result.stdout  # no reST markup shown literally


Invoke = Callable[..., tuple[int, str, str]]


def test_command_help_shows_the_defaults(invoke: Invoke) -> None:
    code, out, _ = invoke("demo", "--help")
    assert code == 0
    assert "[default: 200]" in out and "[default: httpx]" in out


def test_no_command_is_a_usage_error(invoke: Invoke) -> None:
    assert invoke()[0] == ExitCode.USAGE
    assert invoke("frobnicate")[0] == ExitCode.USAGE


def test_endpoints_prints_the_table_and_json_for_scripts(invoke: Invoke) -> None:
    assert invoke("endpoints")[1].strip() == endpoint_table()
    rows = json.loads(invoke("endpoints", "--json")[1])
    assert [row["name"] for row in rows] == [e.name for e in ENDPOINTS]
    audit = next(row for row in rows if row["name"] == "get_audit_status")
    assert audit["fields"]["auditid"] == {"type": "int", "required": True}


def _token(served: Served) -> str:
    token: str = admin(served.url, "tokens", appid=APPID)["access_token"]
    return token


def test_call_drives_the_release_pipeline_over_http(served: Served, tmp_path: Path) -> None:
    token = _token(served)

    def call(*args: str) -> dict[str, object]:
        result = run("call", APPID, *args, "--base-url", served.url, WXA_ACCESS_TOKEN=token)
        assert result.returncode == 0, result.stderr
        assert token not in result.stdout + result.stderr
        answer: dict[str, object] = json.loads(result.stdout)
        return answer

    assert call("commit", "template_id=1", 'ext_json={"extAppid": "x"}', "user_version=1.0.0",
                "user_desc=from the CLI")["errcode"] == 0
    assert call("get_page")["page_list"] == ["pages/index/index", "pages/detail/detail"]
    item = {"address": "pages/index/index", "tag": "工具", "first_class": "工具",
            "second_class": "备忘录", "first_id": 1, "second_id": 2, "title": "首页"}
    auditid = call("submit_audit", f"item_list={json.dumps([item])}")["auditid"]
    assert isinstance(auditid, int) and auditid > 0
    status = call("get_audit_status", f"auditid={auditid}")
    assert status["status"] == 2  # under audit
    assert "raw" not in status  # the typed answer, not a copy of the wire
    assert call("get_audit_status", f"auditid={auditid}", "--raw")["status"] == 2
    written = call("get_qrcode", "--output", str(tmp_path / "trial.jpg"))
    assert (tmp_path / "trial.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert written["bytes"] == (tmp_path / "trial.jpg").stat().st_size


def test_call_with_component_credentials_from_the_environment(served: Served) -> None:
    admin(served.url, "component", component_appid="wxcomponent0001",
          component_appsecret="s3cret-value", component_verify_ticket="ticket@@@value")
    refresh = admin(served.url, "apps", appid="wxemu0000000099")["refresh_token"]
    env = {"WXA_COMPONENT_APPID": "wxcomponent0001", "WXA_COMPONENT_APPSECRET": "s3cret-value",
           "WXA_COMPONENT_VERIFY_TICKET": "ticket@@@value",
           "WXA_AUTHORIZER_REFRESH_TOKEN": refresh, "WXA_BASE_URL": served.url}
    result = run("call", "wxemu0000000099", "get_category", **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["category_list"][0]["first_class"] == "工具"
    for secret in ("s3cret-value", "ticket@@@value", refresh):
        assert secret not in result.stdout + result.stderr


def test_exit_codes(served: Served, invoke: Invoke) -> None:
    token = _token(served)
    before = admin(served.url, "stats")

    def code(*args: str, **env: str) -> tuple[int, str]:
        status, out, err = invoke("call", APPID, *args, "--base-url", served.url, **env)
        assert out == "" or status == 0
        assert token not in out + err
        return status, err

    for bad in (["no_such_endpoint"], ["get_audit_status", "auditid=abc"],
                ["get_audit_status", "auditid=0"], ["get_audit_status"],
                ["get_page", "color=red"], ["get_qrcode"], ["get_page", "novalue"]):
        status, err = code(*bad, WXA_ACCESS_TOKEN=token)
        assert status == ExitCode.USAGE, bad
        assert err.startswith("error: "), err
    # Nothing above reached the service: bad input is refused before any request.
    assert admin(served.url, "stats")["calls"] == before["calls"]

    status, err = code("release", WXA_ACCESS_TOKEN=token)
    assert status == ExitCode.FAILED
    assert "errcode 85019: 没有审核版本 (no audited version)" in err  # glossed once
    status, err = code("get_page")
    assert status == ExitCode.SETUP and "WXA_ACCESS_TOKEN" in err
    status, _ = code("get_category", WXA_ACCESS_TOKEN=token, WXA_BASE_URL="http://127.0.0.1:9")
    assert status == 0  # --base-url wins over the environment
    status, _, err = invoke("call", APPID, "get_page", "--base-url", "http://127.0.0.1:9",
                            "--timeout", "5", WXA_ACCESS_TOKEN=token)
    assert status == ExitCode.TRANSPORT, err
    assert token not in err


def test_injected_faults_are_logged_as_what_they_are(served: Served) -> None:
    token = _token(served)
    admin(served.url, "faults", kind="drop", times=1)
    result = run("call", APPID, "get_category", "--base-url", served.url,
                 WXA_ACCESS_TOKEN=token)
    assert result.returncode == 0, result.stderr  # the read was retried
    log = served.stop()
    assert "INFO wxa_async.emulator: injected fault drop on get_category" in log
    assert "ERROR" not in log and "ASGI callable" not in log


BLOCK = "import sys; sys.modules.update({m: None for m in %r}); "


@pytest.mark.parametrize(
    ("blocked", "args", "install"),
    [
        (["typer"], ["--version"], "pip install 'wxa_async[cli]'"),
        (["typer"], ["demo"], "pip install 'wxa_async[cli,crypto,emulator,rollout]'"),
        (["cryptography"], ["demo", "--apps", "1"], "pip install 'wxa_async[crypto]'"),
        (["uvicorn"], ["emulator"], "pip install 'wxa_async[emulator]'"),
    ],
)
def test_a_missing_extra_is_named(blocked: list[str], args: list[str], install: str) -> None:
    code = BLOCK % (blocked,) + f"from wxa_async.cli import main; sys.exit(main({args!r}))"
    result = run("-c", code, entry=[sys.executable])
    assert result.returncode == ExitCode.SETUP
    assert install in result.stderr
    assert "Traceback" not in result.stderr


def test_aiohttp_transport_without_aiohttp_names_the_extra() -> None:
    code = BLOCK % (["aiohttp"],) + (
        "from wxa_async import *\n"
        "from wxa_async import AiohttpTransport, WxaError\n"
        "try:\n    AiohttpTransport()\n"
        "except ImportError as exc:\n    assert isinstance(exc, WxaError); print(exc)\n"
    )
    result = run("-c", code, entry=[sys.executable])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "AiohttpTransport needs the 'aiohttp' extra: pip install 'wxa_async[aiohttp]'"
    )


def test_rollout_is_mounted_under_the_cli(invoke: Invoke) -> None:
    code, out, _ = invoke("rollout", "--help")
    assert code == ExitCode.OK
    assert " run " in out and " status " in out


def test_rollout_without_its_extra_names_it() -> None:
    code = BLOCK % (["sqlalchemy"],) + "from wxa_async.cli import main; " \
        "sys.exit(main(['rollout', 'status', 'x', '--store', 'sqlite:///x.db']))"
    result = run("-c", code, entry=[sys.executable])
    assert result.returncode == ExitCode.SETUP
    assert "pip install 'wxa_async[rollout]'" in result.stderr
