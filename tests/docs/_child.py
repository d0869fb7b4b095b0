"""Runs one chain of documentation blocks (JSON on stdin): the fixture's setup, each
block in one namespace (top-level ``await`` allowed), then the fixture's checks.

With ``--serve`` it is a fork server: it imports the library once, then for each
request (one JSON line on stdin) forks a child that runs the chain with its output in
the files the request names, and answers ``pid N`` and then ``exit CODE`` on stdout.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import inspect
import json
import os
import sys
from typing import Any

from tests.docs.examples import SKIP_EXIT
from tests.docs.fixtures import FIXTURES, FixtureSkipped


def run(spec: dict[str, Any], ns: dict[str, Any]) -> int:
    loop = asyncio.new_event_loop()
    fixture = None
    try:
        if spec["fixture"] is not None:
            if spec["fixture"] not in FIXTURES:
                print(f"unknown fixture {spec['fixture']!r}; known: {sorted(FIXTURES)}",
                      file=sys.stderr)
                return 2
            fixture = FIXTURES[spec["fixture"]](ns, **spec["needs"])
            try:
                loop.run_until_complete(anext(fixture))
            except FixtureSkipped as skipped:
                print(f"SKIP: {skipped}")
                return SKIP_EXIT
        for block in spec["blocks"]:
            # Padded so that tracebacks name the Markdown file and its line numbers.
            source = "\n" * (block["line"] - 1) + block["code"]
            code = compile(source, block["path"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(eval(code, ns))
            else:
                exec(code, ns)
        if fixture is not None:
            # After the blocks: the fixture's checks on what they built, then teardown.
            try:
                loop.run_until_complete(anext(fixture))
            except StopAsyncIteration:
                fixture = None
            else:
                raise RuntimeError("a docs fixture must yield exactly once")
    finally:
        if fixture is not None:
            loop.run_until_complete(fixture.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            code = 1
            try:
                os.chdir(request["cwd"])
                for fd, name in ((1, "stdout"), (2, "stderr")):
                    out = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(out, fd)
                    os.close(out)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                ns: dict[str, Any] = {"__name__": "__main__"}
                try:
                    code = run(request["spec"], ns)
                finally:
                    # What interpreter shutdown would do: drop the example's names, so
                    # anything left unclosed is finalized and warns.
                    ns.clear()
                    gc.collect()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(run(json.load(sys.stdin), {"__name__": "__main__"}))
