"""The written guarantees (docs/reliability.md) hold: quota errors are surfaced at once
and never retried, on both transports against the emulator's real quota logic, and the
retry table in the document is the endpoint table's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.core import FakeService, call, make_client
from tests.support.emulator import APPID, ITEM, make_emulator
from tests.support.soak import make_transport
from wxa_async import ENDPOINTS, StaticTokenProvider, WxaClient, WxaDecodeError, WxaQuotaError
from wxa_async.errors import QUOTA_ERRCODES
from wxa_async.testing import BytesResponse, running_server

TRANSPORTS = ["httpx", "aiohttp"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


async def committed_and_submitted(client: WxaClient) -> int:
    app = client.app(APPID)
    await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
    return (await app.submit_audit(item_list=[ITEM])).auditid


# name -> the errcode the emulator answers once that endpoint's quota is used up
QUOTAS = {"submit_audit": 85085, "undo_code_audit": 87013, "speedup_audit": 45009}


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("name", QUOTAS)
async def test_quota_errcodes_from_the_emulator_surface_at_once(kind: str, name: str) -> None:
    errcode = QUOTAS[name]
    emu, _, token = make_emulator()
    async with running_server(emu) as base_url:
        transport = make_transport(kind)  # type: ignore[arg-type]
        # Many retries allowed: a quota error must still be sent exactly once.
        async with WxaClient(StaticTokenProvider({APPID: token}), base_url, transport,
                             max_retries=10) as client:
            app = client.app(APPID)
            kwargs: dict[str, Any] = {}
            if name == "submit_audit":
                await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="d")
                emu.limits.audit_submissions_per_month = 0  # platform-wide, monthly
                kwargs = {"item_list": [ITEM]}
            elif name == "undo_code_audit":
                await committed_and_submitted(client)
                emu.limits.undo_per_day = 0  # one a day, ten a month
            else:
                kwargs = {"auditid": await committed_and_submitted(client)}
                emu.limits.speedups_per_month = 0  # one a month
            before = emu.app_calls[(APPID, name)]
            with pytest.raises(WxaQuotaError) as caught:
                await getattr(app, name)(**kwargs)
            assert client.retry_counts[name] == 0
        await transport.aclose()
    assert caught.value.errcode == errcode
    assert caught.value.endpoint == name
    assert caught.value.description  # WeChat's text, for the operator
    assert emu.app_calls[(APPID, name)] == before + 1
    assert emu.applied[(APPID, name)] == 0  # refused: nothing was done


@pytest.mark.parametrize("errcode", sorted(QUOTA_ERRCODES))
@pytest.mark.parametrize("name", ["get_page", "get_qrcode", "query_quota", "commit"])
async def test_every_quota_errcode_is_typed_and_never_retried(errcode: int, name: str) -> None:
    service = FakeService().reply(*[{"errcode": errcode, "errmsg": "quota"}] * 5)
    async with make_client(service, max_retries=10) as client:
        with pytest.raises(WxaQuotaError) as caught:
            await call(client, name)
        assert client.retry_counts[name] == 0
    assert caught.value.errcode == errcode
    assert len(service.requests) == 1


def documented_retries() -> dict[str, bool]:
    rows = re.findall(r"^\| `(\w+)` \|[^|]*\|[^|]*\| (yes|never) \|", DOC.read_text(), re.M)
    return {name: answer == "yes" for name, answer in rows}


def test_the_documented_retry_table_is_the_endpoint_table() -> None:
    assert documented_retries() == {e.name: e.idempotent for e in ENDPOINTS}


def test_every_statement_names_a_test_that_exists() -> None:
    text = DOC.read_text()
    named = set(re.findall(r"`(tests/(?:\w+/)?test_\w+\.py)::(\w+)`", text))
    assert len(named) >= 10
    for path, test in named:
        source = (DOC.parents[1] / path).read_text()
        assert re.search(rf"def {test}\b", source), f"{path}::{test} is named but missing"


async def test_a_body_that_is_not_json_is_retried_for_reads_only() -> None:
    # A gateway's HTML page is transient: a read tries again. A mutation may have been
    # applied before the page replaced its answer: it is never repeated.
    html = BytesResponse(200, {"Content-Type": "text/html"}, b"<html>upstream</html>")
    service = FakeService().reply(html, html, {"errcode": 0, "errmsg": "ok", "page_list": []})
    async with make_client(service) as client:
        assert (await call(client, "get_page")).page_list == []
        assert client.retry_counts["get_page"] == 2
    service = FakeService().reply(html, {"errcode": 0, "errmsg": "ok"})
    async with make_client(service) as client:
        with pytest.raises(WxaDecodeError):
            await call(client, "release")
    assert len(service.requests) == 1


async def test_json_that_does_not_fit_the_model_is_not_retried() -> None:
    # It would come back the same: retrying only spends quota.
    service = FakeService().reply({"errcode": 0, "page_list": "index"}, {"errcode": 0})
    async with make_client(service) as client:
        with pytest.raises(WxaDecodeError):
            await call(client, "get_page")
    assert len(service.requests) == 1
