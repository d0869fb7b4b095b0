"""Test helpers for the token provider: a fake of WeChat's component-token endpoints (as a
Transport and as a loopback HTTP server), a real redis-server, and the multi-process worker.

Run as a script it is that worker (see ``worker``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from wxa_async.transports import BytesResponse, HttpRequest

REPO = Path(__file__).resolve().parents[2]
SECRET = "SECRET-component-appsecret"
TICKET = "ticket@@@SECRET-verify-ticket"


def refresh_token_of(appid: str) -> str:
    return f"refreshtoken@@@SECRET-{appid}"


class TokenService:
    """What api.weixin.qq.com answers on the two component-token endpoints, and counters.

    Tokens embed a sequence number, so a test can tell a refreshed token from an old one.
    ``errors`` maps an authorizer appid to the errcode its refresh answers.
    """

    def __init__(self, *, expires_in: int = 7200, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.component_calls = 0
        self.authorizer_calls: collections.Counter[str] = collections.Counter()
        self.valid_component_tokens: set[str] = set()
        self.refresh_tokens: dict[str, str] = {}  # appid -> the one the service accepts
        self.rotate = False
        self.errors: dict[str, int] = {}
        self.reject_component_tokens = 0  # answer 40001 to this many authorizer calls
        self.seen_bodies: list[dict[str, Any]] = []
        self.hang: set[str] = set()  # authorizer appids whose refresh waits while listed
        self.gate: asyncio.Event | None = None  # when set, refreshes wait for it

    async def handle(self, path: str, params: dict[str, str], body: bytes) -> dict[str, Any]:
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        data = json.loads(body)
        self.seen_bodies.append(data)
        if path.endswith("/cgi-bin/component/api_component_token"):
            return self._component(data)
        if path.endswith("/cgi-bin/component/api_authorizer_token"):
            answer = self._authorizer(params, data)
            while data["authorizer_appid"] in self.hang:
                await asyncio.sleep(0.01)
            return answer
        return {"errcode": 404, "errmsg": "no such endpoint"}

    def _component(self, data: dict[str, Any]) -> dict[str, Any]:
        self.component_calls += 1
        if data.get("component_appsecret") != SECRET:
            return {"errcode": 40001, "errmsg": "invalid appsecret"}
        if data.get("component_verify_ticket") != TICKET:
            return {"errcode": 61006, "errmsg": "component_verify_ticket is invalid"}
        token = f"ctoken-{self.component_calls}"
        self.valid_component_tokens.add(token)
        return {"component_access_token": token, "expires_in": self.expires_in}

    def _authorizer(self, params: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        appid = data["authorizer_appid"]
        self.authorizer_calls[appid] += 1
        if self.reject_component_tokens > 0:
            self.reject_component_tokens -= 1
            self.valid_component_tokens.discard(params.get("component_access_token", ""))
        if params.get("component_access_token") not in self.valid_component_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if appid in self.errors:
            return {"errcode": self.errors[appid], "errmsg": "refused"}
        expected = self.refresh_tokens.get(appid, refresh_token_of(appid))
        if data.get("authorizer_refresh_token") != expected:
            return {"errcode": 61023, "errmsg": "refresh_token is invalid"}
        n = self.authorizer_calls[appid]
        answer = expected
        if self.rotate:
            answer = f"{expected}+"
            self.refresh_tokens[appid] = answer
        return {
            "authorizer_access_token": f"atoken-{appid}-{n}",
            "expires_in": self.expires_in,
            "authorizer_refresh_token": answer,
        }


class FakeTransport:
    """A Transport answering from a :class:`TokenService` in this process."""

    default_concurrency = 32

    def __init__(self, service: TokenService) -> None:
        self.service = service
        self.requests: list[HttpRequest] = []
        self.closed = False

    async def send(self, request: HttpRequest) -> BytesResponse:
        self.requests.append(request)
        await asyncio.sleep(0)  # a real transport yields; let other callers pile up
        body = request.content or b""
        answer = await self.service.handle(request.url, dict(request.params), body)
        return BytesResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())

    async def aclose(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- a loopback HTTP stand-in for the two endpoints --------------------------------------


class StandInServer:
    """The :class:`TokenService` over real HTTP on 127.0.0.1 (uvicorn in a thread)."""

    def __init__(self, service: TokenService) -> None:
        import uvicorn

        self.service = service
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        params = dict(parse_qsl(scope["query_string"].decode()))
        answer = json.dumps(await self.service.handle(scope["path"], params, body)).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})

    def __enter__(self) -> StandInServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


# -- a real redis-server on loopback ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session", name="redis_server")
def redis_server_fixture() -> Iterator[str]:
    """A redis-server for the session; its URL. Skipped only outside CI when absent."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not _ping(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server: str) -> str:
    """The server's URL, with an empty database."""
    import redis

    client = redis.Redis.from_url(redis_server)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server


# -- the multi-process worker -----------------------------------------------------------


def start_worker(
    base_url: str, redis_url: str, appids: list[str], *, calls: int = 1,
    go: Path | None = None, lock_ttl: float = 10.0,
) -> subprocess.Popen[str]:
    """Starts ``worker`` in a new Python process; it prints "ready", then its summary."""
    config = {"base_url": base_url, "redis_url": redis_url, "appids": appids,
              "calls": calls, "go": str(go) if go else None, "lock_ttl": lock_ttl}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    return subprocess.Popen(
        [sys.executable, __file__, json.dumps(config)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=REPO,
    )


async def worker(config: dict[str, Any]) -> None:
    """Waits for the file ``go`` (if any), then gathers ``calls`` get_token per appid all
    at once through a shared RedisTokenStore; prints a JSON summary: the tokens seen per
    appid and the failures."""
    from wxa_async.tokens import ComponentTokenProvider, RedisTokenStore

    names: list[str] = config["appids"]
    go = Path(config["go"]) if config["go"] else None
    async with (
        RedisTokenStore(config["redis_url"]) as store,
        ComponentTokenProvider(
            "wxcomponent", SECRET, TICKET, {n: refresh_token_of(n) for n in names},
            base_url=config["base_url"], store=store, lock_ttl=config["lock_ttl"],
        ) as provider,
    ):
        await store.get("warm-up")  # connect before the start line
        print("ready", flush=True)
        while go is not None and not go.exists():
            await asyncio.sleep(0.005)
        asked = [n for n in names for _ in range(config["calls"])]
        results = await asyncio.gather(
            *(provider.get_token(n) for n in asked), return_exceptions=True
        )
    tokens: dict[str, set[str]] = collections.defaultdict(set)
    failures = []
    for name, result in zip(asked, results, strict=True):
        if isinstance(result, BaseException):
            failures.append(repr(result))
        else:
            tokens[name].add(result)
    summary = {"calls": len(asked), "tokens": {k: sorted(v) for k, v in tokens.items()},
               "failures": failures}
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(worker(json.loads(sys.argv[1])))
