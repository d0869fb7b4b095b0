"""The entry point and the exit codes; imports Typer only when the command line runs."""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence

__all__ = ["ExitCode", "main"]

PROG = "wxa-async"


class ExitCode(enum.IntEnum):
    """What ``wxa-async`` exits with (also in ``docs/cli.md``)."""

    OK = 0
    #: The work failed: WeChat answered an errcode, or the demo's checks failed.
    FAILED = 1
    #: Bad usage: an unknown command, option, endpoint or field, or a value that breaks
    #: the request's documented limits (nothing was sent).
    USAGE = 2
    #: The environment is missing something: an extra, credentials, a server binary.
    SETUP = 3
    #: No usable answer: connection failed, timed out, HTTP 5xx, a body that is not JSON.
    TRANSPORT = 4
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


def missing_cli_extra(args: Sequence[str]) -> str:
    # Name everything the asked-for command needs at once, not one extra per attempt.
    extras = "cli,crypto,emulator,rollout" if args[:1] == ["demo"] else "cli"
    return (
        f"{PROG} needs the 'cli' extra (Typer): pip install 'wxa_async[{extras}]'\n"
        "(the endpoint table is also available without it: "
        "python -c 'import wxa_async.cli as c; print(c.endpoint_table())')"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from ._app import app
    except ModuleNotFoundError as exc:
        if exc.name not in ("typer", "click", "rich", "shellingham"):
            raise
        print(missing_cli_extra(args), file=sys.stderr)
        return ExitCode.SETUP
    try:
        app(args=args, prog_name=PROG)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return ExitCode.OK
        return code if isinstance(code, int) else ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return ExitCode.OK
