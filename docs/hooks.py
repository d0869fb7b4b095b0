"""MkDocs hooks: pages that are generated from the code at build time."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- endpoint-table -->"


def on_page_markdown(markdown: str, **_: Any) -> str:
    # The endpoint table is rendered from the endpoint tables themselves, so the page
    # can never disagree with the code.
    if MARKER in markdown:
        from wxa_async.cli import endpoint_table

        markdown = markdown.replace(MARKER, endpoint_table())
    return markdown
