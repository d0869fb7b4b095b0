"""docs/recipes/aiohttp.md: the aiohttp.web app of the page, against the emulator."""

from __future__ import annotations

from pathlib import Path

from .conftest import Platform, assert_closed, drive, load_recipe, need

web = need("aiohttp.web")


async def test_the_aiohttp_recipe_shares_one_client_through_a_cleanup_context(
    platform: Platform, tmp_path: Path
) -> None:
    recipe = load_recipe("aiohttp.md", tmp_path, "recipe_aiohttp_app")
    app = recipe.create_app()
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await drive(f"http://127.0.0.1:{port}", platform, lambda: app[recipe.PROVIDER])
        client = app[recipe.CLIENT]
    finally:
        await runner.cleanup()
    await assert_closed(client)
