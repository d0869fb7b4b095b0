"""Serve the emulator over HTTP: ``python -m wxa_async.testing.emulator --port 8000``.

It prints the base URL once it listens and serves until Ctrl-C / SIGTERM. Set it up
with the admin API under ``/_emulator/`` (see the README), or pass ``--apps N`` to
start with N authorized mini programs and template 1.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from ._handlers import Emulator
from ._load import Latency, Load, RateLimit
from ._state import AuditPolicy

__all__ = ["build_emulator", "main"]

DEFAULT_PAGES = ("pages/index/index", "pages/detail/detail")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wxa_async.testing.emulator",
        description="A stateful emulator of the WeChat mini-program code-management API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests that get a random fault (0 to 1)")
    parser.add_argument("--apps", type=int, default=0,
                        help="authorize this many mini programs (wxemu0000000001, ...)")
    parser.add_argument("--audit-delay", type=float, default=None,
                        help="audits resolve after this many virtual seconds")
    parser.add_argument("--audit-fail-rate", type=float, default=0.0,
                        help="with --audit-delay: share of audits that fail")
    parser.add_argument("--no-admin", action="store_true", help="disable /_emulator/ admin API")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="answers take this many seconds (e.g. 0.03, WeChat's round trip)")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="with --latency: plus or minus up to this many seconds")
    parser.add_argument("--capacity", type=int, default=None,
                        help="with --latency: calls served at once before latency climbs")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N",
                        help="errcode 45011 past N calls a minute per API")
    return parser


def build_emulator(args: argparse.Namespace) -> Emulator:
    """The emulator the command line describes."""
    emu = Emulator(seed=args.seed)
    if args.fault_rate:
        emu.faults.set_rate(args.fault_rate, seed=args.seed)
    if args.audit_delay is not None:
        emu.audit_policy = AuditPolicy(
            delay=args.audit_delay, fail_rate=args.audit_fail_rate, seed=args.seed
        )
    # getattr: callers building a Namespace by hand (the wxa-async CLI) may leave these out.
    latency, rate_limit = getattr(args, "latency", 0.0), getattr(args, "rate_limit", None)
    if latency or rate_limit:
        emu.load = Load(
            Latency(latency, getattr(args, "jitter", 0.0), getattr(args, "capacity", None),
                    args.seed) if latency else None,
            RateLimit(rate_limit) if rate_limit else None,
        )
    if args.apps:
        emu.add_template(1, DEFAULT_PAGES)
        for number in range(1, args.apps + 1):
            emu.add_app(f"wxemu{number:010d}")
    return emu


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 0.0 <= args.fault_rate <= 1.0:
        print("--fault-rate must be between 0 and 1", file=sys.stderr)
        return 2
    from ._http import serve

    def ready(url: str) -> None:
        print(f"wxa_async emulator listening on {url}", flush=True)

    def stop(*_: object) -> None:
        # uvicorn shuts down gracefully, then re-raises SIGTERM to the previous
        # handler: this one, so a terminated emulator exits 0 like one stopped by Ctrl-C.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        asyncio.run(serve(build_emulator(args), args.host, args.port, on_ready=ready,
                          admin=not args.no_admin))
    except KeyboardInterrupt:
        pass
    except (OSError, RuntimeError) as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0

