"""Every Python example in README.md and docs/**/*.md runs, as written.

Conventions for whoever writes a page:

* Every fenced block tagged ``python`` (or ``py``) is executed; other languages
  (``console``, ``sh``, ``toml``, ...) are not. Each block runs in its own process, as
  ``python -X dev -W error::ResourceWarning``, in a fresh temporary directory, and fails
  on an exception or on any leak warning (an unclosed resource, a coroutine never
  awaited, a task destroyed while pending).
* Top-level ``await`` (and ``async with``) is allowed, so a short example needs no
  ``asyncio.run`` boilerplate. A full script may use ``asyncio.run(main())``.
* An HTML comment on the line before a fence (blank lines between are fine) changes how
  the block runs:

  - ``<!-- test: continue -->``: run after the previous Python block of the same
    page, in the same process and namespace (it sees the names that block defined).
  - ``<!-- test: fixture NAME -->``: run with the names that fixture provides (a
    client on the emulator, a genuine push, ...). The fixtures are in
    ``tests/docs/fixtures.py``, each with a docstring saying what it provides:
    ``emulator``, ``wechat`` (examples written against WeChat with placeholder
    credentials run against an emulator that knows the placeholders), ``wechat_redis``
    and ``push``.
  - ``<!-- test: file NAME -->`` before a block of any language: its text is written
    to ``NAME`` in the working directory of every Python block of that page (a plan
    file, a config file) and not executed.

* ``# -> text`` at the end of a line (or alone on a line) says what the example
  prints: when a chain has any, its output must be exactly those lines, in order.
* No block is skipped. One that needs real WeChat credentials is written with the
  placeholders the ``wechat`` fixture knows (``wxCOMPONENT``, ``ACCESS_TOKEN``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.examples import (
    LEAKS,
    SKIP_EXIT,
    Chain,
    ChainServer,
    all_chains,
    blocks,
    chains,
    pages,
    run_chain,
)
from tests.docs.fixtures import FIXTURES, NEEDS
from tests.support.tokens import redis_server_fixture, redis_url_fixture  # noqa: F401

CHAINS = all_chains()


@pytest.fixture(scope="module")
def server() -> Iterator[ChainServer]:
    chain_server = ChainServer()
    yield chain_server
    chain_server.close()


def test_every_page_is_read_and_examples_are_found() -> None:
    assert any(p.name == "README.md" for p in pages())
    assert len(CHAINS) >= 10
    assert {chain.fixture for chain in CHAINS} <= {None, *FIXTURES}


@pytest.mark.parametrize("chain", CHAINS, ids=[chain.id for chain in CHAINS])
def test_example_runs(
    chain: Chain, tmp_path: Path, request: pytest.FixtureRequest, server: ChainServer
) -> None:
    needs = {name: str(request.getfixturevalue(name))
             for name in NEEDS.get(chain.fixture or "", ())}
    result = server.run(chain, tmp_path, needs)
    if result.returncode == SKIP_EXIT:
        message = result.stdout.strip()
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert result.returncode == 0, result.stderr[-4000:]
    leaks = [line for line in result.stderr.splitlines() if any(m in line for m in LEAKS)]
    assert not leaks, result.stderr[-4000:]
    if chain.expected:
        assert result.stdout.splitlines() == chain.expected


# -- the runner itself ------------------------------------------------------------------


def _page(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_directives_continuations_and_files(tmp_path: Path, server: ChainServer) -> None:
    path = _page(
        tmp_path, "# p", "```python", "x = 1", "```", "<!-- test: continue -->", "",
        "```python", "assert x == 1", "```", "<!-- test: file plan.toml -->",
        "```toml", "a = 1", "```", "```console", "$ nox", "```",
        "<!-- test: fixture emulator -->", "```python", "await app.get_category()",
        "print(1 + 1)  # -> 2", "```",
    )
    found = chains(path)
    assert [len(c.blocks) for c in found] == [2, 1]
    assert [c.fixture for c in found] == [None, "emulator"]
    assert [c.expected for c in found] == [[], ["2"]]
    assert found[0].files == {"plan.toml": "a = 1\n"}
    assert [b.lang for b in blocks(path)] == ["python", "python", "toml", "console", "python"]
    for chain in found:
        assert server.run(chain, tmp_path).returncode == 0
    assert (tmp_path / "plan.toml").read_text() == "a = 1\n"


def test_a_chain_runs_in_a_fresh_process_too(tmp_path: Path) -> None:
    path = _page(tmp_path, "```python", "f = open('x.txt', 'w')", "print('ok')", "```")
    result = run_chain(chains(path)[0], tmp_path)
    assert result.returncode == 0 and result.stdout == "ok\n"
    assert any(m in result.stderr for m in LEAKS)


def test_a_failing_example_fails_names_its_line_and_leaks_are_seen(
    tmp_path: Path, server: ChainServer
) -> None:
    path = _page(tmp_path, "# p", "```python", "raise SystemExit(3)", "```",
                 "```python", "f = open('x.txt', 'w')", "```",
                 "```python", "", "1 / 0", "```", "```python", "print('ok')", "```")
    exits, leak, error, fine = (server.run(c, tmp_path) for c in chains(path))
    assert exits.returncode == 3
    assert any(m in leak.stderr for m in LEAKS)  # an unclosed file is a leak
    assert error.returncode == 1 and f'{path}", line 10' in error.stderr
    assert fine.returncode == 0 and fine.stdout == "ok\n" and not fine.stderr


@pytest.mark.parametrize("lines", [
    ("<!-- test: continue -->", "text", "```python", "pass", "```"),
    ("<!-- test: continue -->", "```python", "pass", "```"),
    ("```python", "pass", "```", "<!-- test: fixture -->", "```python", "pass", "```"),
])
def test_a_misplaced_or_unknown_directive_is_an_error(
    tmp_path: Path, lines: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=r"test directive|continue"):
        chains(_page(tmp_path, *lines))
