"""docs/recipes/fastapi.md and django.md: each page's ASGI app, served by uvicorn with
its lifespan, against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.emulator import serve_asgi

from .conftest import Platform, assert_closed, drive, load_recipe, need

# page, framework, the ASGI app, then the shared provider and client, from the module
RECIPES = {
    "fastapi": ("fastapi.md", lambda m: m.app, lambda m: m.app.state.provider,
                lambda m: m.app.state.client),
    "django": ("django.md", lambda m: m.application, lambda m: m.wechat.provider,
               lambda m: m.wechat.client),
}


@pytest.mark.parametrize("framework", list(RECIPES))
async def test_the_recipe_shares_one_client_opened_by_the_lifespan(
    framework: str, platform: Platform, tmp_path: Path
) -> None:
    need(framework)
    page, asgi, provider, client = RECIPES[framework]
    recipe: Any = load_recipe(page, tmp_path, f"recipe_{framework}_app")
    async with serve_asgi(asgi(recipe), lifespan="on") as url:
        await drive(url, platform, lambda: provider(recipe))
        shared = client(recipe)
    await assert_closed(shared)
