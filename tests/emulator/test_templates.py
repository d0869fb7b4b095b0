"""The emulator's template library: drafts become templates, commit needs a template in
the library, at most 200 of them (85065), and only the component token opens it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.emulator import APPID, PAGES, errcode, make_emulator, raw
from wxa_async import StaticTokenProvider, WxaApiError, WxaClient
from wxa_async.testing import Emulator, FakeTransport, running_server
from wxa_async.transports import AiohttpTransport, HttpxTransport


def platform(emu: Emulator, app_token: str) -> WxaClient:
    emu.set_component("wxcomponent", "secret", "ticket@@@t")
    provider = StaticTokenProvider(
        {APPID: app_token}, component_token=emu.issue_component_token(lifetime=366 * 86400))
    return WxaClient(provider, transport=FakeTransport(emu))


async def api_error(coro: Any) -> WxaApiError:
    with pytest.raises(WxaApiError) as info:
        await coro
    return info.value


async def test_a_draft_becomes_a_template_that_commit_takes() -> None:
    emu, _, token = make_emulator()
    draft_id = emu.add_draft(PAGES, privacy_keys=["Location"], user_version="2.0.0",
                             user_desc="门店版")
    async with platform(emu, token) as client:
        component, app = client.component(), client.app(APPID)
        drafts = (await component.get_template_draft_list()).draft_list
        assert [(d.draft_id, d.user_version, d.user_desc) for d in drafts] == [
            (draft_id, "2.0.0", "门店版")]
        await component.add_to_template(draft_id, template_type=0)
        templates = (await component.get_template_list()).template_list
        new = [t for t in templates if t.user_version == "2.0.0"]
        assert len(templates) == 2 and len(new) == 1  # template 1 of make_emulator, and it
        template_id = new[0].template_id
        await app.commit(template_id=template_id, ext_json={}, user_version="v", user_desc="d")
        assert (await app.get_code_privacy_info()).without_conf_list == ["Location"]
        await component.delete_template(template_id)
        error = await api_error(app.commit(template_id=template_id, ext_json={},
                                           user_version="v", user_desc="d"))
        assert error.errcode == 85014  # commit takes only a template in the library
        assert (await api_error(component.delete_template(template_id))).errcode == 85064
        assert (await api_error(component.add_to_template(draft_id + 1))).errcode == 85064


async def test_the_library_holds_at_most_its_cap() -> None:
    emu, _, token = make_emulator()
    assert emu.limits.templates == 200
    emu.limits.templates = 3
    draft_id = emu.add_draft(PAGES)
    async with platform(emu, token) as client:
        component = client.component()
        await component.add_to_template(draft_id)
        await component.add_to_template(draft_id, template_type=1)
        assert (await api_error(component.add_to_template(draft_id))).errcode == 85065
        assert len((await component.get_template_list()).template_list) == 3
        standard = (await component.get_template_list(template_type=1)).template_list
        assert [t.template_type for t in standard] == [1]
        await component.delete_template(standard[0].template_id)
        await component.add_to_template(draft_id)  # room again


async def test_only_the_component_token_opens_the_library() -> None:
    emu, _, token = make_emulator()
    assert errcode(await raw(emu, "get_template_list", token=token)) == 40001
    emu.set_component("wxcomponent", "secret", "ticket@@@t")
    component = emu.issue_component_token()
    assert errcode(await raw(emu, "get_template_list", token=component)) == 0
    assert errcode(await raw(emu, "get_page", token=component)) == 40001
    emu.clock.advance(emu.limits.component_token_lifetime)
    assert errcode(await raw(emu, "get_template_list", token=component)) == 42001


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_templates_over_http(kind: str) -> None:
    emu, _, token = make_emulator()
    draft_id = emu.add_draft(PAGES)
    emu.set_component("wxcomponent", "secret", "ticket@@@t")
    provider = StaticTokenProvider({APPID: token}, component_token=emu.issue_component_token())
    wire = HttpxTransport() if kind == "httpx" else AiohttpTransport()
    async with running_server(emu) as base_url, WxaClient(
        provider, base_url=base_url, transport=wire
    ) as client:
        await client.component().add_to_template(draft_id)
        listed = (await client.component().get_template_list(template_type=0)).template_list
    await wire.aclose()
    assert len(listed) == 2
