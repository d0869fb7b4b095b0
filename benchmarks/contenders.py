"""The contenders, one small function each, sharing the timing harness.

* ``raw-aiohttp``, ``raw-httpx``: an expert using the library directly, a semaphore of
  ``c`` and a pool of ``c`` connections;
* ``raw-*-naive``: the same library, all calls gathered at once, a pool of 64;
* ``wxa-aiohttp``, ``wxa-httpx``: wxa_async with a semaphore of ``c`` and
  ``max_concurrency=c``;
* ``wxa-*-naive``: wxa_async with its defaults, all calls gathered at once;
  ``-adaptive``: with ``max_concurrency=AdaptiveLimit(min=4, max=512)`` instead;
  ``-fixed32``: with a fixed limit and pool of 32, the defaults before the adaptive one;
* ``wechatpy-threads``: wechatpy (requests) on ``c`` threads, one client per thread;
* ``file-*``: ``get_qrcode.to_file`` against the raw clients streaming to a file;
* ``pipeline-*``: a release pipeline against the emulator's HTTP mode;
* ``token-cold-start``: 500 apps through the component token provider.

Latency is per call from when it may start: inside the semaphore for the paced
contenders, from the gather for the naive ones (it then includes the wait in the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from harness import APPID, NAIVE_POOL, TOKEN, Harness, Job

# The adaptive limit's bounds in the benchmark, and the pool it needs under them.
ADAPTIVE_MIN, ADAPTIVE_MAX = 4, 512


# -- JSON contenders: one function each ------------------------------------------------


def _check(payload: dict[str, Any]) -> None:
    if payload.get("errcode"):  # what any careful caller checks
        raise RuntimeError(payload.get("errmsg"))


async def raw_aiohttp(job: Job, harness: Harness) -> None:
    import aiohttp

    pool = job.concurrency or NAIVE_POOL
    connector = aiohttp.TCPConnector(limit=pool, limit_per_host=pool)
    async with aiohttp.ClientSession(connector=connector) as session:
        url, params = f"{job.base_url}/{job.path}", {"access_token": job.token}

        async def call() -> None:
            async with session.get(url, params=params) as response:
                response.raise_for_status()
                _check(json.loads(await response.read()))

        await harness.drive(call)


async def raw_httpx(job: Job, harness: Harness) -> None:
    import httpx

    pool = job.concurrency or NAIVE_POOL
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        url, params = f"{job.base_url}/{job.path}", {"access_token": job.token}

        async def call() -> None:
            response = await client.get(url, params=params)
            response.raise_for_status()
            _check(response.json())

        await harness.drive(call)


@contextlib.asynccontextmanager
async def _wxa(
    job: Job, transport_name: str, tokens: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """A WxaClient on one transport: defaults when naive, else ``c`` everywhere; an
    adaptive limit (and a pool as large as its maximum) for ``job.adaptive``; a fixed
    limit and pool of ``job.fixed`` (the defaults before the adaptive one) for that."""
    from wxa_async import (
        AdaptiveLimit,
        AiohttpTransport,
        HttpxTransport,
        StaticTokenProvider,
        WxaClient,
    )

    kind = AiohttpTransport if transport_name == "aiohttp" else HttpxTransport
    limit: int | AdaptiveLimit | None = job.concurrency
    pool = job.concurrency or job.fixed
    if job.fixed:
        limit = job.fixed
    if job.adaptive:
        limit, pool = AdaptiveLimit(min=ADAPTIVE_MIN, max=ADAPTIVE_MAX), ADAPTIVE_MAX
    transport = kind() if pool is None else kind(max_connections=pool)
    try:
        async with WxaClient(
            StaticTokenProvider(tokens or {job.appid: job.token}), job.base_url,
            transport=transport, max_concurrency=limit,
        ) as client:
            yield client
    finally:
        await transport.aclose()


async def wxa_json(job: Job, harness: Harness, transport_name: str) -> dict[str, Any]:
    """One endpoint (``job.path``'s last part) again and again. Calls refused with
    errcode 45011 count apart (``refused``): the rate-limit rows expect some; for an
    adaptive limit the limit is sampled every 0.1 s (``limits``)."""
    from wxa_async import WxaQuotaError

    refused = 0
    async with _wxa(job, transport_name) as client:
        method = getattr(client.app(job.appid), job.path.rsplit("/", 1)[1])

        async def call() -> None:
            nonlocal refused
            try:
                await method()
            except WxaQuotaError as exc:
                if exc.errcode != 45011:
                    raise
                refused += harness.recording

        limits: list[int] = []

        async def watch() -> None:
            while True:
                limits.append(client.concurrency)
                await asyncio.sleep(0.1)

        # The defaults are adaptive too: their limit is sampled as well.
        sampled = job.adaptive or (job.concurrency is None and not job.fixed)
        watcher = asyncio.create_task(watch()) if sampled else None
        # An adaptive limit is measured from its start, not from a warmed-up limit.
        await harness.drive(call, warmup=0 if job.adaptive else None)
        if watcher is not None:
            watcher.cancel()
    out: dict[str, Any] = {"refused": refused}
    if sampled:
        out |= {"limits": limits, "final_limit": limits[-1] if limits else None}
    return out


def wechatpy_threads(job: Job, harness: Harness) -> None:
    from wechatpy import WeChatClient

    local = threading.local()

    def call() -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = WeChatClient(APPID, "secret", access_token=TOKEN)
            client.wxa.API_BASE_URL = f"{job.base_url}/"
        client.wxa.get_page()

    harness.drive_threads(call)


# -- get_qrcode.to_file against the raw clients streaming to a file ------------------------


async def _download_loop(
    job: Job, harness: Harness, download: Callable[[str], Awaitable[int]]
) -> None:
    # On tmpfs when there is one: this measures the clients, not the disk's writeback.
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        dest = os.path.join(tmp, "qr.jpg")

        async def call() -> None:
            if await download(dest) != job.size:
                raise RuntimeError("short download")
            os.unlink(dest)  # every download writes a fresh file, as to_file does

        await harness.drive(call)


async def raw_aiohttp_file(job: Job, harness: Harness) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        url = f"{job.base_url}/wxa/get_qrcode"
        params = {"access_token": TOKEN, "size": str(job.size)}

        async def download(dest: str) -> int:
            written = 0
            async with session.get(url, params=params) as response:
                response.raise_for_status()
                with open(dest, "wb") as file:
                    async for chunk in response.content.iter_chunked(65536):
                        written += file.write(chunk)
            return written

        await _download_loop(job, harness, download)


async def raw_httpx_file(job: Job, harness: Harness) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60.0) as client:
        url = f"{job.base_url}/wxa/get_qrcode"
        params = {"access_token": TOKEN, "size": str(job.size)}

        async def download(dest: str) -> int:
            written = 0
            async with client.stream("GET", url, params=params) as response:
                response.raise_for_status()
                with open(dest, "wb") as file:
                    async for chunk in response.aiter_bytes(65536):
                        written += file.write(chunk)
            return written

        await _download_loop(job, harness, download)


async def wxa_file(job: Job, harness: Harness, transport_name: str) -> None:
    # The canned server reads the size from the query; the SDK passes ``path`` only, so
    # the size rides on the base URL's path prefix instead.
    sized = Job(job.contender, f"{job.base_url}/size{job.size}", job.calls, job.concurrency)
    async with _wxa(sized, transport_name) as client:
        app = client.app(APPID)
        await _download_loop(job, harness, lambda dest: app.get_qrcode.to_file(dest))


# -- a release pipeline against the emulator's HTTP mode, in its own process ---------------


async def wxa_pipeline(job: Job, harness: Harness, transport_name: str) -> None:
    """One "call" is a whole release of one mini program: commit, get_page, submit_audit,
    get_audit_status (audits pass at once: ``--audit-delay 0``) and release. Every call
    takes a fresh app, so no app's audit quota or state carries over between calls."""
    import httpx

    from wxa_async.models import AuditItem

    warmup = min(job.concurrency or NAIVE_POOL, job.calls)
    appids = [f"wxemu{job.offset + n:010d}" for n in range(1, warmup + job.calls + 1)]
    async with httpx.AsyncClient(base_url=job.base_url, trust_env=False) as admin:
        # A new month on the emulator's clock: the platform may submit 1,000 audits a
        # calendar month (errcode 85085), and every job submits a few hundred.
        await admin.post("/_emulator/advance", json={"seconds": 31 * 86400})
        answers = await asyncio.gather(*(
            admin.post("/_emulator/tokens", json={"appid": appid}) for appid in appids))
    tokens = {a: r.json()["access_token"] for a, r in zip(appids, answers, strict=True)}
    queue = iter(appids)

    async with _wxa(job, transport_name, tokens) as client:

        async def release_one() -> None:
            app = client.app(next(queue))
            await app.commit(template_id=1, ext_json={}, user_version="v1", user_desc="bench")
            page = (await app.get_page()).page_list[0]
            item = AuditItem(address=page, tag="工具", first_class="工具",
                             second_class="备忘录", first_id=1, second_id=2, title="首页")
            auditid = (await app.submit_audit(item_list=[item])).auditid
            if (await app.get_audit_status(auditid=auditid)).status != 0:
                raise RuntimeError("the audit did not pass")
            await app.release()

        await harness.drive(release_one)


# -- token cold start through the component token provider ---------------------------------


async def token_cold_start(job: Job, harness: Harness) -> dict[str, Any]:
    """500 apps, no token cached: every first call refreshes; then the warm pass."""
    from wxa_async import AiohttpTransport, WxaClient
    from wxa_async.tokens import ComponentTokenProvider

    appids = [f"wxcold{i:011d}" for i in range(job.calls)]
    refreshes: dict[str, int] = {"api_component_token": 0, "api_authorizer_token": 0}
    token_transport = AiohttpTransport()
    original_send = token_transport.send

    async def counting_send(request: Any) -> Any:
        refreshes[request.url.rsplit("/", 1)[1]] += 1
        return await original_send(request)

    token_transport.send = counting_send  # type: ignore[method-assign]
    provider = ComponentTokenProvider(
        "wxcomponent000001", "component-secret", verify_ticket="ticket",
        refresh_tokens={appid: f"refresh-{appid}" for appid in appids},
        base_url=job.base_url, transport=token_transport,
    )
    transport = AiohttpTransport()
    try:
        async with WxaClient(provider, job.base_url, transport=transport) as client:
            apps = [client.app(appid) for appid in appids]
            timings = {}
            for phase in ("cold", "warm"):
                started = time.perf_counter()
                await asyncio.gather(*(app.get_page() for app in apps))
                timings[phase] = round(time.perf_counter() - started, 4)
    finally:
        await transport.aclose()
        await token_transport.aclose()
    harness.seconds = timings["cold"]
    harness.latencies = [timings["cold"]]
    return {"cold_s": timings["cold"], "warm_s": timings["warm"], "refresh_calls": refreshes}


CONTENDERS: dict[str, Callable[[Job, Harness], Any]] = {
    "raw-aiohttp": raw_aiohttp,
    "raw-httpx": raw_httpx,
    "wxa-aiohttp": lambda job, h: wxa_json(job, h, "aiohttp"),
    "wxa-httpx": lambda job, h: wxa_json(job, h, "httpx"),
    "wechatpy-threads": wechatpy_threads,
    "file-raw-aiohttp": raw_aiohttp_file,
    "file-raw-httpx": raw_httpx_file,
    "file-wxa-aiohttp": lambda job, h: wxa_file(job, h, "aiohttp"),
    "file-wxa-httpx": lambda job, h: wxa_file(job, h, "httpx"),
    "token-cold-start": token_cold_start,
    "pipeline-wxa-aiohttp": lambda job, h: wxa_pipeline(job, h, "aiohttp"),
    "pipeline-wxa-httpx": lambda job, h: wxa_pipeline(job, h, "httpx"),
}


