"""Command line: ``python -m wxa_async demo`` and ``python -m wxa_async endpoints``."""

from __future__ import annotations

import argparse
import asyncio
import inspect

from .._handle import ENDPOINTS


def endpoint_table() -> str:
    """The README's endpoint table, derived from the one endpoint table."""
    lines = [
        "| method | wire | answer | retried on transient errors |",
        "|---|---|---|---|",
    ]
    for endpoint in ENDPOINTS:
        params = ", ".join(
            name if p.default is inspect.Parameter.empty else f"{name}={p.default!r}"
            for name, p in inspect.signature(endpoint.request).parameters.items()
        )
        answer = "bytes / file" if endpoint.binary else f"`{endpoint.response.__name__}`"
        lines.append(
            f"| `{endpoint.name}({params})` | {endpoint.method} `{endpoint.path}` | {answer} "
            f"| {'yes' if endpoint.idempotent else 'no (mutation)'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wxa_async", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="run a bulk release pipeline against the built-in emulator"
    )
    demo.add_argument("--apps", type=int, default=200, help="mini programs (default 200)")
    demo.add_argument(
        "--fault-rate", type=float, default=0.03, help="share of calls hit by a fault"
    )
    demo.add_argument("--seed", type=int, default=7, help="seed for faults and audit outcomes")
    demo.add_argument(
        "--transport", choices=("fake", "httpx", "aiohttp"), default="fake",
        help="fake: in process; httpx/aiohttp: over HTTP to the emulator on loopback",
    )
    commands.add_parser("endpoints", help="print the endpoint table as Markdown")
    args = parser.parse_args(argv)
    if args.command == "endpoints":
        print(endpoint_table())
        return 0
    from ..testing._demo import run_demo

    report = asyncio.run(
        run_demo(apps=args.apps, fault_rate=args.fault_rate, seed=args.seed,
                 transport=args.transport)
    )
    return 0 if report.ok else 1

