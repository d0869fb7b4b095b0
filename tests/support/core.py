"""Shared helpers for the core SDK tests: a fake WeChat service on MockTransport, the
WeChat's sample answers, a token provider that can refresh, and a recorder of retry delays.

The SDK under test is real; only the HTTP layer is faked.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import inspect
import json
import socket
import sys
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import pytest

from wxa_async import RetryPolicy, StaticTokenProvider, Timeout, WxaClient
from wxa_async.testing import BytesResponse, HttpRequest, MockTransport

APPID = "wxAPPID"
# Distinctive, so a leak is found by a plain substring search.
TOKEN = "ACCESS-TOKEN-SECRET-7f3a9c"
BASE_URL = "https://api.weixin.qq.com"
OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"

# An answer is a dict (JSON, HTTP 200), bytes (an image/jpeg body), a BytesResponse,
# an exception (raised by the transport) or a function of the request returning any of
# those (sync or async).
Answer = Any


def json_response(payload: Any, status: int = 200) -> BytesResponse:
    return BytesResponse(
        status,
        {"Content-Type": "application/json; encoding=utf-8"},
        json.dumps(payload, ensure_ascii=False).encode(),
    )


def image_response(body: bytes = JPEG) -> BytesResponse:
    return BytesResponse(200, {"Content-Type": "image/jpeg"}, body)


class FakeService:
    """A stand-in for api.weixin.qq.com at the transport seam.

    Answers come from ``queue`` first (in order), then from ``routes`` by URL path
    (``wxa/get_page``), then ``{"errcode": 0, "errmsg": "ok"}``.
    """

    def __init__(self) -> None:
        self.queue: collections.deque[Answer] = collections.deque()
        self.routes: dict[str, Answer] = {}
        self.transport = MockTransport(self._handle)

    def reply(self, *answers: Answer) -> FakeService:
        self.queue.extend(answers)
        return self

    @property
    def requests(self) -> list[HttpRequest]:
        return self.transport.requests

    def route_of(self, request: HttpRequest) -> Answer:
        path = urllib.parse.urlsplit(request.url).path
        for key, answer in self.routes.items():
            if path.endswith("/" + key):
                return answer
        return OK

    def body_of(self, index: int = -1) -> Any:
        content = self.requests[index].content
        assert content is not None, "request has no body"
        return json.loads(content)

    async def _handle(self, request: HttpRequest) -> BytesResponse:
        answer = self.queue.popleft() if self.queue else self.route_of(request)
        while callable(answer) and not isinstance(answer, type):
            answer = answer(request)
            if inspect.isawaitable(answer):
                answer = await answer
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, BytesResponse):
            return answer
        if isinstance(answer, bytes):
            return image_response(answer)
        return json_response(answer)


def make_client(service: FakeService, **options: Any) -> WxaClient:
    """A client on ``service``; with a :class:`SleepRecorder` installed, its policy."""
    options.setdefault("base_url", BASE_URL)
    options.setdefault("token_provider", StaticTokenProvider({APPID: TOKEN}))
    if _RECORDER is not None:
        options.setdefault("retry", _RECORDER.policy())
    return WxaClient(transport=service.transport, **options)


class RefreshingTokenProvider:
    """Hands out ``token-1``, then ``token-2`` after an invalidate, and so on."""

    def __init__(self, prefix: str = TOKEN) -> None:
        self.prefix = prefix
        self.generation = 1
        self.invalidated: list[tuple[str, str]] = []

    def current(self) -> str:
        return f"{self.prefix}-{self.generation}"

    async def get_token(self, appid: str) -> str:
        return self.current()

    async def invalidate(self, appid: str, token: str) -> None:
        self.invalidated.append((appid, token))
        if token == self.current():  # compare-and-clear
            self.generation += 1

    async def get_component_token(self) -> str:
        return f"COMPONENT-{self.current()}"

    async def invalidate_component_token(self, token: str) -> None:
        await self.invalidate("component", token.removeprefix("COMPONENT-"))


class SleepRecorder:
    """The sleep of a :class:`RetryPolicy`: records each retry delay and yields instead
    of waiting. ``install`` makes it the one :func:`make_client` injects for the test."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)

    def policy(self, **fields: Any) -> RetryPolicy:
        return RetryPolicy(sleep=self.sleep, **fields)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
        monkeypatch.setattr(sys.modules[__name__], "_RECORDER", self)
        return self


_RECORDER: SleepRecorder | None = None


def lazy_chunks(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes in ``chunk``-sized pieces, each made only when asked for."""
    sent = 0
    index = 0
    while sent < total:
        size = min(chunk, total - sent)
        yield bytes([index % 251]) * size
        sent += size
        index += 1


def failing_chunks(good: Iterable[bytes], error: BaseException) -> Iterator[bytes]:
    yield from good
    raise error


async def never(_: HttpRequest) -> BytesResponse:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


FAST = Timeout(connect=1.0, read=1.0, total=1.0)

Handler = Callable[[HttpRequest], Awaitable[BytesResponse]]


# -- WeChat's sample answers (代码管理 docs), verbatim ------------------------------

SEED_CATEGORY: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "category_list": [
        {"first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2},
        {
            "first_class": "教育",
            "second_class": "学历教育",
            "third_class": "高等",
            "first_id": 3,
            "second_id": 4,
            "third_id": 5,
        },
    ],
}
SEED_PAGE = {"errcode": 0, "errmsg": "ok", "page_list": ["index", "page/list", "page/detail"]}
SEED_SUBMIT_AUDIT = {"errcode": 0, "errmsg": "ok", "auditid": 1234567}
SEED_AUDIT_STATUS = {"errcode": 0, "errmsg": "ok", "status": 1, "reason": "帐号信息不合规范"}
SEED_LATEST_AUDIT_STATUS = {
    "errcode": 0,
    "errmsg": "ok",
    "auditid": "1234567",
    "status": 1,
    "reason": "帐号信息不合规范",
}
SEED_SUPPORT_VERSION = {
    "errcode": 0,
    "errmsg": "ok",
    "now_version": "1.0.0",
    "uv_info": {
        "items": [
            {"percentage": 0, "version": "1.0.0"},
            {"percentage": 0, "version": "1.0.1"},
            {"percentage": 0, "version": "1.1.0"},
        ]
    },
}
SEED_QRCODE_JUMP = {
    "rule_list": [
        {
            "prefix": "https://weixin.qq.com/qrcodejump",
            "open_version": 1,
            "state": 1,
            "permit_sub_rule": 1,
            "path": "pages / index / index ",
            "debug_url": [
                "https://weixin.qq.com/qrcodejump?a=1",
                "https://weixin.qq.com/qrcodejump?a=1",
                "https://weixin.qq.com/qrcodejump?a=2",
                "https: //weixin.qq.com/qrcodejump?a=2",
            ],
        },
        {
            "prefix": "https://weixin.qq.com/qrcodejumptest",
            "open_version": 1,
            "state": 1,
            "permit_sub_rule": 1,
            "path": "pages/index/index",
            "debug_url": [
                "https://weixin.qq.com/qrcodejumptest?a=1",
                "https://weixin.qq.com/qrcodejumptest?a=1",
                "https://weixin.qq.com/qrcodejumptest?a=2",
                "https: //weixin.qq.com/qrcodejumptest?a=2",
            ],
        },
    ],
    "qrcodejump_open": 0,
    "errcode": 0,
    "list_size": 2,
    "errmsg": "ok",
    "qrcodejump_pub_quota": 20,
}
SEED_QRCODE_JUMP_FILE = {
    "errcode": 0,
    "errmsg": "ok",
    "file_name": "xCw1ZEPnO0.txt",
    "file_content": "5b8b4ad2b8b0f0c0b6bd2a0f1e6c1f13",
}
SEED_GRAY_RELEASE_PLAN = {
    "errcode": 0,
    "errmsg": "ok",
    "gray_release_plan": {"status": 1, "create_timestamp": 1517553721, "gray_percentage": 8},
}

# Seed-valid arguments for every endpoint of the table, keyed by method name.
VALID_ARGS: dict[str, dict[str, Any]] = {
    "commit": {
        "template_id": 0,
        "ext_json": {"extAppid": "", "ext": {"attr1": "value1"}},
        "user_version": "V1.0",
        "user_desc": "test",
    },
    "get_qrcode": {},
    "get_category": {},
    "get_page": {},
    "submit_audit": {"item_list": [{"address": "index", "tag": "学习 生活", "title": "首页"}]},
    "get_audit_status": {"auditid": 1234567},
    "get_latest_audit_status": {},
    "release": {},
    "change_visit_status": {"action": "close"},
    "revert_code_release": {},
    "get_support_version": {},
    "set_support_version": {"version": "1.0.0"},
    "add_qrcode_jump": {
        "prefix": "https://weixin.qq.com/qrcodejump",
        "permit_sub_rule": 1,
        "path": "pages/index/index",
        "open_version": 1,
    },
    "get_qrcode_jump": {},
    "download_qrcode_jump_file": {},
    "delete_qrcode_jump": {"prefix": "https://weixin.qq.com/qrcodejump"},
    "publish_qrcode_jump": {"prefix": "https://weixin.qq.com/qrcodejump"},
    "undo_code_audit": {},
    "gray_release": {"gray_percentage": 1},
    "revert_gray_release": {},
    "get_gray_release_plan": {},
    "speedup_audit": {"auditid": 1234567},
    "query_quota": {},
    "get_code_privacy_info": {},
    "get_version_info": {},
    "get_history_version": {},
    "set_privacy_setting": {
        "owner_setting": {"contact_email": "dev@example.com", "notice_method": "弹窗"},
        "setting_list": [{"privacy_key": "Location", "privacy_text": "展示附近门店"}],
    },
    "get_privacy_setting": {},
    "get_privacy_interface": {},
    "apply_privacy_interface": {"api_name": "wx.getLocation", "content": "展示附近门店"},
    "upload_media": {"media": b"\x89PNG\r\n\x1a\n", "filename": "shot.png"},
    "upload_privacy_ext_file": {"file": "补充说明".encode(), "filename": "ext.txt"},
}


async def call(client: WxaClient, name: str, **overrides: Any) -> Any:
    """Call endpoint ``name`` on the test app with arguments WeChat documents as valid."""
    kwargs = {**VALID_ARGS[name], **overrides}
    return await getattr(client.app(APPID), name)(**kwargs)


# -- a real HTTP/1.1 server on loopback, for the httpx transport ---------------------


@dataclasses.dataclass
class RawRequest:
    method: str
    target: str  # path and query exactly as they arrived, still URL-encoded
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.target.partition("?")[2], keep_blank_values=True)


RouteHandler = Callable[[asyncio.StreamWriter, RawRequest], Awaitable[bool]]


def http_head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def serve_bytes(
    body: bytes, content_type: str = "application/json", status: int = 200, chunk: int = 0
) -> RouteHandler:
    async def handle(writer: asyncio.StreamWriter, _: RawRequest) -> bool:
        writer.write(http_head(status, {"Content-Type": content_type,
                                        "Content-Length": str(len(body))}))
        step = chunk or len(body) or 1
        for start in range(0, len(body), step):
            writer.write(body[start : start + step])
            await writer.drain()
        await writer.drain()
        return True  # keep the connection alive

    return handle


def serve_json(payload: Any, status: int = 200) -> RouteHandler:
    return serve_bytes(json.dumps(payload, ensure_ascii=False).encode(), status=status)


async def hang(writer: asyncio.StreamWriter, _: RawRequest) -> bool:
    await asyncio.Event().wait()  # accept, read the request, never answer
    return False


def trickle(total: int, every: float = 1.0) -> RouteHandler:
    async def handle(writer: asyncio.StreamWriter, _: RawRequest) -> bool:
        writer.write(http_head(200, {"Content-Type": "image/jpeg",
                                     "Content-Length": str(total)}))
        writer.write(b"\xff")
        await writer.drain()
        for _byte in range(total - 1):
            await asyncio.sleep(every)
            writer.write(b"\xd8")
            await writer.drain()
        return False

    return handle


class LoopbackServer:
    """A minimal keep-alive HTTP/1.1 server on 127.0.0.1 and a free port; ``routes`` maps
    a URL path (``/wxa/get_page``) to a handler. Counts open connections."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteHandler] = {}
        self.requests: list[RawRequest] = []
        self.open_connections = 0
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def wait_all_closed(self, limit: float = 2.0) -> int:
        """Open connections left once the clients let go (waits up to ``limit``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while self.open_connections:
                    await asyncio.sleep(0.01)
        return self.open_connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open_connections += 1
        self.connections += 1
        try:
            while request := await self._read_request(reader):
                self.requests.append(request)
                handler = self.routes.get(request.path) or serve_json(
                    {"errcode": 404, "errmsg": "no route"}, status=404
                )
                if not await handler(writer, request):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
        line = await reader.readline()
        if not line.strip():
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return RawRequest(method, target, headers, body)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
