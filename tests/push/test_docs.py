"""Every Python block of docs/push.md runs as written and prints what its ``# -> ...``
comments say.

Blocks follow the docs site's conventions: a block runs on its own unless the line
before it is ``<!-- test: continue -->``, which runs it after the previous block in the
same namespace. Top-level ``await`` is allowed.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "push.md"
BLOCK = re.compile(
    r"(?:<!--\s*test:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S
)
EXPECTED = re.compile(r"#\s*->\s*(?P<text>.*?)\s*$")


def chains() -> list[list[tuple[int, str]]]:
    """The page's Python blocks grouped into chains; each block with its line number."""
    text = PAGE.read_text(encoding="utf-8")
    found: list[list[tuple[int, str]]] = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        directive = match["directive"]
        if directive == "continue":
            assert found, f"docs/push.md:{line}: continue with no block before it"
            found[-1].append((line, match["code"]))
        else:
            assert directive is None, f"docs/push.md:{line}: unknown directive {directive!r}"
            found.append([(line, match["code"])])
    return found


def test_every_test_the_page_names_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", PAGE.read_text(encoding="utf-8"))
    assert len(named) >= 15
    root = PAGE.parents[1]
    for path, name in named:
        source = (root / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name}"


def test_the_page_has_examples_for_each_topic() -> None:
    code = "".join(block for chain in chains() for _, block in chain)
    for name in ("decrypt_message", "callback_asgi_app", "CallbackHandler", "appid_pattern",
                 "WxaStalePushError", "seen=", "create_time=", "build_push"):
        assert name in code, name


@pytest.mark.parametrize("chain", chains(), ids=lambda chain: f"push.md:{chain[0][0]}")
async def test_every_example_runs_and_prints_what_it_says(
    chain: list[tuple[int, str]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("WXA_COMPONENT_TOKEN", "WXA_COMPONENT_AES_KEY", "WXA_COMPONENT_APPID",
                 "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)  # the examples' own defaults
    namespace: dict[str, object] = {"__name__": "__docs__"}
    expected: list[str] = []
    for line, code in chain:
        expected += [m["text"] for raw in code.splitlines() if (m := EXPECTED.search(raw))]
        compiled = compile(
            "\n" * (line - 1) + code, str(PAGE), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        result = eval(compiled, namespace)  # the page's own examples
        if inspect.iscoroutine(result):
            await result
    printed = capsys.readouterr().out.splitlines()
    assert printed == expected
