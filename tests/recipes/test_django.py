"""docs/recipes/django.md: the Django project of the page, against the emulator."""

from __future__ import annotations

from pathlib import Path

from .conftest import Platform, assert_closed, drive, load_recipe, need, serve_asgi

need("django")


async def test_the_django_recipe_shares_one_client_opened_by_the_lifespan(
    platform: Platform, tmp_path: Path
) -> None:
    recipe = load_recipe("django.md", tmp_path, "recipe_django_site")
    async with serve_asgi(recipe.application) as url:
        await drive(url, platform, lambda: recipe.wechat.provider)
        client = recipe.wechat.client
    await assert_closed(client)
