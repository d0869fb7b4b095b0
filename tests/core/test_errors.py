"""The error tree: errcodes to exception families, transport failures."""

from __future__ import annotations

import asyncio
import copy
import pickle
from typing import Any

import pytest

from tests.support.core import (
    APPID,
    OK,
    FakeService,
    call,
    json_response,
    make_client,
    never,
)
from wxa_async import (
    WxaApiError,
    WxaDecodeError,
    WxaError,
    WxaPrivacyScanPendingError,
    WxaQuotaError,
    WxaSystemBusyError,
    WxaTimeoutError,
    WxaTokenError,
    WxaTransportError,
)
from wxa_async.testing import BytesResponse


async def test_api_error_carries_errcode_errmsg_endpoint_and_seed_description() -> None:
    service = FakeService().reply({"errcode": 85009, "errmsg": "already audit"})
    async with make_client(service) as client:
        with pytest.raises(WxaApiError) as caught:
            await call(client, "submit_audit")
    error = caught.value
    assert type(error) is WxaApiError and isinstance(error, WxaError)
    assert (error.errcode, error.errmsg, error.endpoint) == (85009, "already audit", "submit_audit")
    assert error.description == "已经有正在审核的版本 (a version is already under audit)"
    text = str(error)
    assert "85009" in text and "submit_audit" in text and "已经有正在审核的版本" in text


@pytest.mark.parametrize(
    ("errcode", "chinese", "english"),
    [
        (85013, "无效的自定义配置", "invalid ext configuration"),
        (85048, "ext_json 解析失败", "ext_json"),
        (86001, "不存在第三方的已经提交的代码", "no committed code"),
        (85023, "审核列表填写的项目数不在 1-5 以内", "1 to 5"),
        (85012, "无效的审核 id", "invalid audit id"),
        (85020, "审核状态未满足发布", "release"),
        (85022, "action 非法", "illegal action"),
        (87011, "现网已经在灰度发布,不能进行版本回退", "gray"),
        (85015, "版本输入错误", "version"),
        (85073, "二维码规则已满", "full"),
        (85082, "当前的发布比例需要比之前设置的高", "gray percentage"),
        (87013, "撤回次数达到上限", "undo"),
    ],
)
def test_descriptions_come_from_the_seed_with_an_english_gloss(
    errcode: int, chinese: str, english: str
) -> None:
    error = WxaApiError(errcode, "x", endpoint="commit")
    assert chinese in error.description
    assert english in error.description
    assert error.description.index(chinese) < error.description.index("(")


def test_one_code_can_mean_something_else_on_one_endpoint() -> None:
    # WeChat's 分阶段发布 docs: 86002 on grayrelease is "not initialised", elsewhere "no nickname".
    assert "小程序未初始化完成" in WxaApiError(86002, "", endpoint="gray_release").description
    assert "昵称" in WxaApiError(86002, "", endpoint="submit_audit").description


def test_unknown_errcode_has_an_empty_description() -> None:
    error = WxaApiError(99999999, "something new")
    assert error.description == ""
    assert "99999999" in str(error) and "something new" in str(error)


@pytest.mark.parametrize(
    ("errcode", "family"),
    [
        (40001, WxaTokenError), (40014, WxaTokenError), (42001, WxaTokenError),
        (45009, WxaQuotaError), (85085, WxaQuotaError), (87013, WxaQuotaError),
        (-1, WxaSystemBusyError), (85009, WxaApiError), (61039, WxaPrivacyScanPendingError),
    ],
)
async def test_errcode_families(errcode: int, family: type[WxaApiError]) -> None:
    service = FakeService()
    service.routes["wxa/commit"] = {"errcode": errcode, "errmsg": "e"}
    async with make_client(service) as client:
        with pytest.raises(WxaApiError) as caught:
            await call(client, "commit")
    assert type(caught.value) is family
    assert caught.value.errcode == errcode


@pytest.mark.parametrize("errcode", [45009, 85085, 87013])
@pytest.mark.parametrize("name", ["query_quota", "submit_audit", "undo_code_audit"])
async def test_quota_errors_are_never_retried(errcode: int, name: str) -> None:
    service = FakeService().reply(*[{"errcode": errcode, "errmsg": "quota"}] * 5)
    async with make_client(service) as client:
        with pytest.raises(WxaQuotaError):
            await call(client, name)
        assert client.retry_counts[name] == 0
    assert len(service.requests) == 1


async def test_errcode_sent_as_a_string_is_still_mapped() -> None:
    service = FakeService().reply({"errcode": "85009", "errmsg": "already"})
    async with make_client(service) as client:
        with pytest.raises(WxaApiError) as caught:
            await call(client, "submit_audit")
    assert caught.value.errcode == 85009


async def test_a_non_integer_errcode_is_a_decode_error() -> None:
    service = FakeService().reply({"errcode": "busy", "errmsg": "?"})
    async with make_client(service) as client:
        with pytest.raises(WxaDecodeError):
            await call(client, "commit")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_http_5xx_is_a_transport_error_with_the_status(status: int) -> None:
    service = FakeService().reply(BytesResponse(status, {}, b"upstream failure"))
    async with make_client(service, max_retries=0) as client:
        with pytest.raises(WxaTransportError) as caught:
            await call(client, "get_page")
    assert caught.value.status_code == status
    assert caught.value.endpoint == "get_page"
    assert str(status) in str(caught.value)
    assert not isinstance(caught.value, WxaApiError)


async def test_http_4xx_is_a_transport_error_and_not_retried() -> None:
    service = FakeService().reply(BytesResponse(404, {}, b"not found"), OK)
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError) as caught:
            await call(client, "get_page")
    assert caught.value.status_code == 404
    assert len(service.requests) == 1


async def test_non_json_body_is_a_transport_error() -> None:
    html = BytesResponse(200, {"Content-Type": "text/html"}, b"<html>")
    service = FakeService().reply(html, html, html, html)
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError) as caught:
            await call(client, "get_page")
    assert isinstance(caught.value, WxaDecodeError)
    # A gateway's HTML page is transient: a read tries again (1 + the default 3 retries).
    assert len(service.requests) == 4


async def test_timeout_is_a_transport_error() -> None:
    service = FakeService().reply(never)
    async with make_client(service) as client:
        with pytest.raises(WxaTransportError) as caught:
            await client.with_options(timeout=0.05, max_retries=0).app(APPID).release()
    assert isinstance(caught.value, WxaTimeoutError)
    assert caught.value.endpoint == "release"


async def test_connection_failure_is_a_transport_error() -> None:
    refused = WxaTransportError("connection failed (ConnectError)", request_sent=False)
    service = FakeService().reply(refused)
    async with make_client(service, max_retries=0) as client:
        with pytest.raises(WxaTransportError) as caught:
            await call(client, "commit")
    assert caught.value.request_sent is False
    assert caught.value.endpoint == "commit"  # filled in by the client


async def test_a_closed_client_refuses_calls() -> None:
    service = FakeService()
    client = make_client(service)
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(WxaError, match="closed"):
        await call(client, "get_page")
    assert service.requests == []


async def test_unknown_appid_is_a_wxa_error_before_sending() -> None:
    service = FakeService()
    async with make_client(service) as client:
        with pytest.raises(WxaError, match="wxOTHER"):
            await client.app("wxOTHER").get_page()
    assert service.requests == []


@pytest.mark.parametrize(
    "error",
    [
        WxaApiError(85009, "already", endpoint="submit_audit"),
        WxaTokenError(40001, "invalid credential", endpoint="get_page"),
        WxaQuotaError(45009, "quota", endpoint="commit"),
        WxaSystemBusyError(-1, "system error", endpoint="get_page"),
        WxaApiError(1, "custom", endpoint=None, description="a caller's own text"),
    ],
    ids=["api", "token", "quota", "busy", "custom"],
)
def test_api_errors_pickle_and_copy(error: WxaApiError) -> None:
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is type(error)
        assert (clone.errcode, clone.errmsg, clone.endpoint, clone.description) == (
            error.errcode, error.errmsg, error.endpoint, error.description
        )
        assert str(clone) == str(error)


def test_transport_errors_pickle() -> None:
    error = WxaTimeoutError("timed out", endpoint="get_page", status_code=None,
                            request_sent=False)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is WxaTimeoutError
    assert (clone.endpoint, clone.request_sent, str(clone)) == ("get_page", False, "timed out")


async def test_every_failure_is_a_wxa_error() -> None:
    answers: list[Any] = [
        {"errcode": 40001, "errmsg": "t"},  # a static token: raised, never sent again
        {"errcode": 45009, "errmsg": "q"},
        {"errcode": -1, "errmsg": "busy"},
        BytesResponse(502, {}, b""),
        b"not json at all",
        json_response([1, 2]),
        WxaTransportError("refused", request_sent=False),
    ]
    service = FakeService().reply(*answers)
    seen: list[type[BaseException]] = []
    async with make_client(service, max_retries=0) as client:
        for _ in range(len(answers)):
            try:
                await call(client, "commit")
            except WxaError as exc:
                seen.append(type(exc))
    assert seen == [WxaTokenError, WxaQuotaError, WxaSystemBusyError, WxaTransportError,
                    WxaDecodeError, WxaDecodeError, WxaTransportError]


async def test_cancelled_call_is_not_turned_into_a_wxa_error() -> None:
    service = FakeService().reply(never)
    async with make_client(service) as client:
        task = asyncio.create_task(call(client, "get_page"))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
