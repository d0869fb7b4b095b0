"""The template library on ``client.component()`` (WeChat's 代码模板库 docs): wire shape,
the docs' sample answers, validation; the component token as ``access_token``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.core import APPID, TOKEN, FakeService
from wxa_async import StaticTokenProvider, WxaClient, WxaSystemBusyError, WxaValidationError

COMPONENT_TOKEN = "COMPONENT-TOKEN-5e1d"
BUSY = {"errcode": -1, "errmsg": "system error"}


def component_client(service: FakeService) -> WxaClient:
    provider = StaticTokenProvider({APPID: TOKEN}, component_token=COMPONENT_TOKEN)
    return WxaClient(provider, transport=service.transport)


async def sent(name: str, *args: Any, answer: Any = None, **kwargs: Any) -> tuple[Any, Any]:
    service = FakeService()
    if answer is not None:
        service.reply(answer)
    async with component_client(service) as client:
        result = await getattr(client.component(), name)(*args, **kwargs)
    (request,) = service.requests
    return request, result


DRAFTS = {  # the example answer of WeChat's gettemplatedraftlist docs
    "errcode": 0, "errmsg": "ok",
    "draft_list": [
        {"create_time": 1488965944, "user_version": "VVV", "user_desc": "AAS",
         "draft_id": 0, "source_miniprogram_appid": "wxe5f52902cf4de896",
         "source_miniprogram": "xxx", "developer": "yyy"},
        {"create_time": 1504790906, "user_version": "11", "user_desc": "111111",
         "draft_id": 4, "source_miniprogram_appid": "wxe5f52902cf4de896",
         "source_miniprogram": "xxx", "developer": "yyy"},
    ],
}
TEMPLATES = {  # the example answer of WeChat's gettemplatelist docs
    "errcode": 0, "errmsg": "ok",
    "template_list": [
        {"create_time": 1488965944, "user_version": "VVV", "user_desc": "AAS",
         "template_id": 0, "template_type": 0, "source_miniprogram_appid": "wxe5f52902cf4de896",
         "source_miniprogram": "xxx", "developer": "yyy", "category_list": []},
        {"create_time": 1504790906, "user_version": "11", "user_desc": "111111",
         "template_id": 4, "template_type": 1, "source_miniprogram_appid": "wxe5f52902cf4de896",
         "source_miniprogram": "xxx", "developer": "yyy",
         "category_list": [{"first_class": "工具", "first_id": 1, "second_class": "备忘录",
                            "second_id": 2}],
         "audit_scene": 0, "audit_status": 1, "reason": ""},
    ],
}


async def test_get_template_draft_list() -> None:
    request, result = await sent("get_template_draft_list", answer=DRAFTS)
    assert request.method == "GET" and request.url.endswith("/wxa/gettemplatedraftlist")
    assert dict(request.params) == {"access_token": COMPONENT_TOKEN}  # the component token
    assert request.content is None
    assert [(d.draft_id, d.user_version, d.create_time) for d in result.draft_list] == [
        (0, "VVV", 1488965944), (4, "11", 1504790906)]
    assert result.draft_list[1].source_miniprogram_appid == "wxe5f52902cf4de896"


async def test_add_to_template() -> None:
    request, _ = await sent("add_to_template", 4)
    assert request.method == "POST" and request.url.endswith("/wxa/addtotemplate")
    assert request.content == b'{"draft_id":4}'
    request, _ = await sent("add_to_template", draft_id=4, template_type=1)
    assert request.content == b'{"draft_id":4,"template_type":1}'
    assert dict(request.params) == {"access_token": COMPONENT_TOKEN}


async def test_get_template_list() -> None:
    request, result = await sent("get_template_list", answer=TEMPLATES)
    assert request.method == "GET" and request.url.endswith("/wxa/gettemplatelist")
    assert dict(request.params) == {"access_token": COMPONENT_TOKEN}
    standard = result.template_list[1]
    assert (standard.template_id, standard.template_type, standard.audit_status) == (4, 1, 1)
    assert standard.category_list[0].second_class == "备忘录"
    assert result.template_list[0].audit_status is None
    request, _ = await sent("get_template_list", template_type=0)
    assert dict(request.params) == {"template_type": "0", "access_token": COMPONENT_TOKEN}


async def test_delete_template() -> None:
    request, _ = await sent("delete_template", template_id=4)
    assert request.method == "POST" and request.url.endswith("/wxa/deletetemplate")
    assert request.content == b'{"template_id":4}'


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("add_to_template", {"draft_id": -1}),
        ("add_to_template", {"draft_id": "4"}),
        ("add_to_template", {"draft_id": 4, "template_type": 2}),
        ("add_to_template", {"draft_id": 4, "template_type": True}),
        ("get_template_list", {"template_type": 3}),
        ("delete_template", {"template_id": None}),
        ("delete_template", {"template_id": 1.0}),
    ],
)
async def test_template_validation(name: str, kwargs: dict[str, Any]) -> None:
    service = FakeService()
    async with component_client(service) as client:
        with pytest.raises(WxaValidationError):
            await getattr(client.component(), name)(**kwargs)
    assert service.requests == []


async def test_reads_retry_and_mutations_do_not() -> None:
    service = FakeService().reply(BUSY, DRAFTS, BUSY, {"errcode": 0, "errmsg": "ok"})
    async with component_client(service) as client:
        component = client.component()
        assert len((await component.get_template_draft_list()).draft_list) == 2
        with pytest.raises(WxaSystemBusyError):
            await component.add_to_template(4)
    assert len(service.requests) == 3
