"""``wxa-async rollout ...``: run, watch and steer rollouts from a shell.

A Typer sub-app (``app``), mounted on the root ``wxa-async`` command with
``add_typer``. Credentials never come from a plan file:

- ``WXA_ACCESS_TOKENS``: a JSON object ``{appid: authorizer access token}``, or
  ``WXA_ACCESS_TOKENS_FILE``: a file holding one (fixed tokens: scripts, the emulator);
- or ``WXA_COMPONENT_APPID`` + ``WXA_COMPONENT_APPSECRET`` with ``WXA_REDIS_URL``: the
  third-party platform's credentials, refreshing authorizer tokens from the refresh
  tokens and verify ticket in that token store (what the callback keeps up to date).

``WXA_BASE_URL`` points the client elsewhere than ``https://api.weixin.qq.com`` (the
emulator). Progress is live (``rich``) on a terminal, plain log lines otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..client import WxaClient
from ..errors import WxaError
from ..rollout import (
    Rollout,
    RolloutOptions,
    RolloutSummary,
    load_plan,
    report_text,
)
from ..tokens import StaticTokenProvider, TokenProvider
from ._serve import serve_command

__all__ = ["app"]

app = typer.Typer(
    name="rollout", no_args_is_help=True,
    help="Release one template version to many mini programs, durably (see docs/rollouts.md).",
)

Store = Annotated[str, typer.Option("--store", help="sqlite:///file.db or postgresql://...")]
Name = Annotated[str, typer.Argument(help="the rollout's name (from its plan)")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output")]

#: The phases a progress bar each: apps past submit, past the audit, done.
_PHASES = (
    ("submitted", {"under_audit", "delayed", "passed", "rejected", "releasing", "gray",
                   "released", "withdrawn", "rolled_back"}),
    ("audited", {"passed", "rejected", "releasing", "gray", "released", "rolled_back"}),
    ("finished", {"released", "rejected", "failed", "withdrawn", "cancelled", "rolled_back"}),
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _provider() -> tuple[TokenProvider, contextlib.AsyncExitStack]:
    stack = contextlib.AsyncExitStack()
    tokens = os.environ.get("WXA_ACCESS_TOKENS")
    path = os.environ.get("WXA_ACCESS_TOKENS_FILE")
    if tokens or path:
        try:
            data = json.loads(tokens if tokens else Path(str(path)).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail("WXA_ACCESS_TOKENS(_FILE) is not a JSON object: "
                        f"{type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise _fail("WXA_ACCESS_TOKENS(_FILE) must be a JSON object {appid: token}")
        return StaticTokenProvider({str(k): str(v) for k, v in data.items()}), stack
    appid = os.environ.get("WXA_COMPONENT_APPID")
    secret = os.environ.get("WXA_COMPONENT_APPSECRET")
    redis_url = os.environ.get("WXA_REDIS_URL")
    if appid and secret and redis_url:
        from ..tokens import ComponentTokenProvider, RedisTokenStore

        store = RedisTokenStore(redis_url)
        stack.push_async_callback(store.aclose)
        provider = ComponentTokenProvider(appid, secret, verify_ticket=store,
                                          refresh_tokens=store, store=store,
                                          base_url=_base_url())
        stack.push_async_callback(provider.aclose)
        return provider, stack
    raise _fail("no credentials: set WXA_ACCESS_TOKENS (or _FILE), or WXA_COMPONENT_APPID, "
                "WXA_COMPONENT_APPSECRET and WXA_REDIS_URL")


def _base_url() -> str:
    return os.environ.get("WXA_BASE_URL", "https://api.weixin.qq.com")


@contextlib.asynccontextmanager
async def _opened(store: str, name: str) -> AsyncIterator[Rollout]:
    try:
        rollout = await Rollout.open(store, name=name)
    except WxaError as exc:
        raise _fail(str(exc)) from None
    async with rollout:
        yield rollout


def _summary_data(summary: RolloutSummary, failures: dict[int | None, int],
                  quota: tuple[int, float] | None) -> dict[str, Any]:
    return {
        "name": summary.name, "state": str(summary.state), "total": summary.total,
        "done": summary.done, "counts": dict(sorted(summary.counts.items())),
        "failures_by_errcode": {str(k): v for k, v in failures.items()},
        "quota_left": None if quota is None else quota[0],
        "user_version": summary.user_version,
    }


def _line(summary: RolloutSummary) -> str:
    counts = " ".join(f"{k}={v}" for k, v in sorted(summary.counts.items()))
    return f"{summary.name} {summary.state}: {summary.done}/{summary.total} done  {counts}"


class _Live:
    """The terminal display: a bar per phase, counts, quota, failures, elapsed, ETA."""

    def __init__(self, total: int) -> None:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        self._text = Text
        self._group = Group
        self.progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(),
        )
        self.tasks = {name: self.progress.add_task(name, total=total) for name, _ in _PHASES}
        self.info = Text("")
        self.live = Live(Group(self.progress, self.info), refresh_per_second=4)

    def update(self, summary: RolloutSummary, failures: dict[int | None, int],
               quota: tuple[int, float] | None) -> None:
        for name, states in _PHASES:
            done = sum(n for s, n in summary.counts.items() if s in states)
            self.progress.update(self.tasks[name], completed=done)
        counts = "  ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
        failed = ", ".join(f"{k}×{v}" for k, v in failures.items()) or "none"
        left = "unknown" if quota is None else str(quota[0])
        self.info.plain = f"{counts}\nquota left {left}   failures by errcode: {failed}"


async def _watch(rollout: Rollout, live: _Live | None, done: asyncio.Event) -> None:
    last = ""
    while True:
        summary = await rollout.status()
        failures = await rollout.store.failures(rollout.name)
        quota = await rollout.store.quota_left()
        if live is not None:
            live.update(summary, failures, quota)
        else:
            line = _line(summary)
            if line != last:
                typer.echo(f"{time.strftime('%H:%M:%S')} {line}")
                last = line
        if done.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.5)


async def _run(plan_file: Path, store: str, options: RolloutOptions, as_json: bool) -> int:
    try:
        plan = load_plan(plan_file)
    except WxaError as exc:
        raise _fail(str(exc)) from None
    provider, stack = _provider()
    async with stack, WxaClient(provider, _base_url()) as client:
        try:
            rollout = await Rollout.open(store, client, plan, options=options)
        except WxaError as exc:
            raise _fail(str(exc)) from None
        async with rollout:
            tty = sys.stdout.isatty() and not as_json
            live = _Live(len(plan.appids)) if tty else None
            done = asyncio.Event()
            context = live.live if live is not None else contextlib.nullcontext()
            with context:
                watcher = asyncio.create_task(
                    _watch(rollout, live, done) if not as_json else done.wait())
                try:
                    summary = await rollout.run()
                finally:
                    done.set()
                    await watcher
            failures = await rollout.store.failures(rollout.name)
            quota = await rollout.store.quota_left()
    if as_json:
        typer.echo(json.dumps(_summary_data(summary, failures, quota), ensure_ascii=False))
    else:
        typer.echo(_line(summary))
    return 0


@app.command()
def run(
    plan_file: Annotated[Path, typer.Argument(help="the TOML plan file")],
    store: Store,
    as_json: AsJson = False,
    concurrency: Annotated[int, typer.Option(help="apps worked at once")] = 32,
    poll_interval: Annotated[float, typer.Option(help="seconds between audit polls")] = 1800.0,
    lease_ttl: Annotated[float, typer.Option(help="seconds a worker's lease lasts")] = 120.0,
    worker_id: Annotated[str | None, typer.Option(help="this worker's name")] = None,
) -> None:
    """Create the plan's rollout, or resume it by name, and work it until it is done,
    paused, or waits for an operator. Run it again after any crash; run it in several
    processes to share the work (PostgreSQL)."""
    options = RolloutOptions(concurrency=concurrency, poll_interval=poll_interval,
                             lease_ttl=lease_ttl, worker_id=worker_id)
    raise typer.Exit(asyncio.run(_run(plan_file, store, options, as_json)))


async def _status(name: str, store: str, as_json: bool) -> None:
    async with _opened(store, name) as rollout:
        summary = await rollout.status()
        failures = await rollout.store.failures(name)
        quota = await rollout.store.quota_left()
        rows = await rollout.report()
    data = _summary_data(summary, failures, quota)
    if as_json:
        data["apps"] = [row.report() for row in rows]
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(_line(summary))
    typer.echo(f"quota left: {data['quota_left']}  failures by errcode: "
               f"{data['failures_by_errcode'] or 'none'}")
    for row in rows:
        extra = f" errcode={row.errcode} {row.errmsg or ''}" if row.errcode else ""
        gray = f" gray={row.gray_percentage}%" if row.state == "gray" else ""
        typer.echo(f"  {row.appid:<20} {row.state:<18} auditid={row.auditid or '-'}"
                   f"{gray}{extra}")


@app.command()
def status(name: Name, store: Store, as_json: AsJson = False) -> None:
    """Counts by state, quota left, failures by errcode, and every app's row."""
    asyncio.run(_status(name, store, as_json))


async def _act(name: str, store: str, action: str, **kwargs: Any) -> None:
    async with _opened(store, name) as rollout:
        changed = await getattr(rollout, action)(**kwargs)
        summary = await rollout.status()
    verb = action if changed else f"{action}: nothing to do for"
    typer.echo(f"{verb} {name} (now {summary.state})")


@app.command()
def pause(name: Name, store: Store) -> None:
    """Stop taking new work; workers finish the calls in flight and stop."""
    asyncio.run(_act(name, store, "pause"))


@app.command()
def resume(name: Name, store: Store) -> None:
    """Undo pause (then start a worker with ``rollout run``)."""
    asyncio.run(_act(name, store, "resume"))


@app.command()
def approve(name: Name, store: Store) -> None:
    """Release the apps an approval policy holds."""
    asyncio.run(_act(name, store, "approve"))


@app.command()
def cancel(name: Name, store: Store) -> None:
    """Withdraw audits under way (undo_code_audit) and stop; workers carry it out."""
    asyncio.run(_act(name, store, "cancel"))


@app.command()
def rollback(
    name: Name, store: Store,
    app_version: Annotated[int | None, typer.Option(help="revert to this app_version")] = None,
) -> None:
    """Revert released apps to their previous version (or ``--app-version``)."""
    asyncio.run(_act(name, store, "rollback", app_version=app_version))


async def _report(name: str, store: str, fmt: str, output: Path | None) -> None:
    async with _opened(store, name) as rollout:
        text = report_text(await rollout.report(), "json" if fmt == "json" else "csv")
    if output is None:
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(output.write_text, text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@app.command()
def report(
    name: Name, store: Store,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """Every app's row as CSV or JSON."""
    if fmt not in ("csv", "json"):
        raise _fail("--format is csv or json")
    asyncio.run(_report(name, store, fmt, output))


# The read-only web dashboard over the same store (its web stack loads only when it runs).
app.command("serve")(serve_command)


if __name__ == "__main__":  # until the root command mounts it: python -m wxa_async.cli._rollout
    app()
