"""Find the code examples in README.md and docs/**/*.md and run them in a child process.

The conventions are described at the top of ``tests/docs/test_examples.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = {"python", "py"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
DIRECTIVE = re.compile(r"^[ \t]*<!--\s*test:\s*(?P<words>.*?)\s*-->[ \t]*$")
# What a clean example never prints: leaked resources, forgotten coroutines and tasks.
LEAKS = ("ResourceWarning", "Exception ignored", "was never awaited",
         "Task was destroyed but it is pending")
SKIP_EXIT = 77  # the child exits with it when a fixture cannot run here
EXPECTED = re.compile(r"#\s*->\s*(?P<text>.*?)\s*$")


@dataclass
class Block:
    path: Path  # the page
    line: int  # 1-based line of the first code line
    lang: str
    code: str
    directive: list[str] = field(default_factory=list)


@dataclass
class Chain:
    """Python blocks that run in one process and one namespace, in order."""

    page: str
    fixture: str | None
    blocks: list[Block]
    files: dict[str, str]  # the page's `file` blocks: name -> content

    @property
    def id(self) -> str:
        return f"{self.page}:{self.blocks[0].line}"

    @property
    def expected(self) -> list[str]:
        """The lines its ``# -> text`` comments say it prints, in order."""
        return [m["text"] for block in self.blocks for line in block.code.splitlines()
                if (m := EXPECTED.search(line))]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a page with the directive written just before it."""
    rel = _name(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    pending: list[str] | None = None
    pending_line = 0
    i = 0
    while i < len(lines):
        directive = DIRECTIVE.match(lines[i])
        fence = FENCE.match(lines[i])
        if directive:
            if pending is not None:
                raise ValueError(f"{rel}:{pending_line}: two directives in a row")
            pending, pending_line = directive["words"].split(), i + 1
        elif fence:
            indent, marker = fence["indent"], fence["fence"]
            start = i + 1
            i += 1
            body: list[str] = []
            while i < len(lines) and not (
                lines[i].strip().startswith(marker) and set(lines[i].strip()) == {marker[0]}
            ):
                line = lines[i]
                body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
                i += 1
            found.append(Block(path, start + 1, fence["info"].lower(), "\n".join(body) + "\n",
                               pending or []))
            pending = None
        elif lines[i].strip() and pending is not None:
            raise ValueError(f"{rel}:{pending_line}: a test directive must come just before a "
                             "fenced block")
        i += 1
    if pending is not None:
        raise ValueError(f"{rel}:{pending_line}: a test directive at the end of the page")
    return found


def chains(path: Path) -> list[Chain]:
    page = _name(path)
    files: dict[str, str] = {}
    result: list[Chain] = []
    for block in blocks(path):
        words = block.directive
        where = f"{page}:{block.line}"
        if words[:1] == ["file"]:
            if len(words) != 2:
                raise ValueError(f"{where}: write `<!-- test: file NAME -->`")
            files[words[1]] = block.code
            continue
        if block.lang not in PYTHON:
            if words:
                raise ValueError(f"{where}: only python blocks and `file` blocks take directives")
            continue
        if words == ["continue"]:
            if not result:
                raise ValueError(f"{where}: `continue` with no python block before it")
            result[-1].blocks.append(block)
        elif not words:
            result.append(Chain(page, None, [block], files))
        elif words[0] == "fixture" and len(words) == 2:
            result.append(Chain(page, words[1], [block], files))
        else:
            raise ValueError(f"{where}: unknown test directive {' '.join(words)!r}")
    return result


def all_chains() -> list[Chain]:
    return [chain for path in pages() for chain in chains(path)]


CHILD = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-m", "tests.docs._child"]


def _prepare(chain: Chain, workdir: Path, needs: dict[str, str] | None) -> dict[str, Any]:
    for name, content in chain.files.items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return {
        "fixture": chain.fixture,
        "needs": needs or {},
        "blocks": [{"path": str(b.path), "line": b.line, "code": b.code}
                   for b in chain.blocks],
    }


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("PYTHONASYNCIODEBUG", None)
    return env


def run_chain(
    chain: Chain, workdir: Path, needs: dict[str, str] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run one chain in a new ``python -X dev -W error::ResourceWarning`` in ``workdir``."""
    spec = _prepare(chain, workdir, needs)
    return subprocess.run(
        [*CHILD], input=json.dumps(spec), cwd=workdir, env=_env(), capture_output=True,
        text=True, timeout=timeout, check=False,
    )


class ChainServer:
    """The same as :func:`run_chain`, but each chain runs in a child forked from one
    process that imported the library once (a fresh interpreter per chain costs
    seconds on a busy machine)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [*CHILD, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(),
            cwd=ROOT, text=True, bufsize=1,
        )
        self.buffer = b""

    def _line(self, timeout: float, pid: int | None = None) -> str:
        # Reads the pipe itself: a buffered reader may hold a line that select cannot see.
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"an example ran longer than {timeout} s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the example server exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def run(
        self, chain: Chain, workdir: Path, needs: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        assert self.proc.stdin is not None
        spec = _prepare(chain, workdir, needs)
        out, err = workdir / ".example.stdout", workdir / ".example.stderr"
        request = {"spec": spec, "cwd": str(workdir), "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line(30).split()[1])
        try:
            code = int(self._line(timeout, pid).split()[1])
        except TimeoutError:
            code = int(self._line(30).split()[1])
        return subprocess.CompletedProcess(
            CHILD, code, out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
