"""docs/recipes/fastapi.md: the FastAPI app of the page, against the emulator."""

from __future__ import annotations

from pathlib import Path

from .conftest import Platform, assert_closed, drive, load_recipe, need, serve_asgi

need("fastapi")


async def test_the_fastapi_recipe_shares_one_client_and_serves_the_callbacks(
    platform: Platform, tmp_path: Path
) -> None:
    recipe = load_recipe("fastapi.md", tmp_path, "recipe_fastapi_app")
    async with serve_asgi(recipe.app) as url:
        await drive(url, platform, lambda: recipe.app.state.provider)
        client = recipe.app.state.client
    await assert_closed(client)
