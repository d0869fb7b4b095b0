"""The dashboard as an ASGI app: HTML pages, the same data as JSON under ``/api/``.

Starlette routes the requests; Jinja2 renders the pages with autoescaping on for
every template, so appids, reasons and errmsgs (which come from outside) are always
text, never markup. Nothing here writes to the store.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import WxaValidationError
from .._asgi import Receive, Scope, Send
from ..rollout import RolloutStore
from ._auth import Guard
from ._chart import layout
from ._queries import SORTS, STATE_ORDER, AppsQuery, Chart, Reader, Sort, parse_states

__all__ = ["Dashboard", "create_app"]

_HERE = Path(__file__).parent
_MAX_PER_PAGE = 500
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _lines(text: str | None) -> Markup:
    """WeChat's reasons separate lines with ``<br>``: those become line breaks, and
    everything else stays text."""
    if not text:
        return Markup("")
    parts = [escape(p.strip()) for p in _BR.split(text)]
    return Markup("<br>").join(p for p in parts if p)


def _label(state: str) -> str:
    return state.replace("_", " ")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, auto_reload=False,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, lines=_lines, label=_label)
    env.globals.update(STATES=STATE_ORDER, SORTS=SORTS)
    return env


def _ints(values: list[str]) -> tuple[int, ...]:
    out = []
    for value in values:
        try:
            out.append(int(value))
        except ValueError:
            continue
    return tuple(dict.fromkeys(out))


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = default
    return min(max(number, low), high)


def apps_query(params: QueryParams) -> AppsQuery:
    """The per-app table's query from request parameters; bad values fall back to
    the defaults rather than failing the page."""
    sort = params.get("sort", "appid")
    chosen = cast(Sort, sort) if sort in SORTS else "appid"
    states = [s for v in params.getlist("state") for s in str(v).split(",") if s]
    return AppsQuery(
        search=str(params.get("q", ""))[:128],
        states=parse_states(states),
        errcodes=_ints([c for v in params.getlist("errcode") for c in str(v).split(",") if c]),
        sort=chosen,
        descending=params.get("order") == "desc",
        page=_int(params.get("page"), 1, 1, 10**9),
        per_page=_int(params.get("per_page"), 50, 1, _MAX_PER_PAGE),
    )


def _query_params(query: AppsQuery, **changes: Any) -> dict[str, Any]:
    """The URL parameters that reproduce ``query`` (with ``changes``), defaults left out."""
    params: dict[str, Any] = {
        "q": query.search, "state": list(query.states), "errcode": list(query.errcodes),
        "sort": query.sort, "order": "desc" if query.descending else "asc",
        "page": query.page, "per_page": query.per_page,
    }
    params.update(changes)
    defaults = {"q": "", "state": [], "errcode": [], "sort": "appid", "order": "asc",
                "page": 1, "per_page": 50}
    return {k: v for k, v in params.items() if v != defaults[k]}


class Dashboard:
    """The dashboard's ASGI app (build it with :func:`create_app`).

    It opens the store on the first request when given a URL and closes it in
    :meth:`aclose` (called at the end of the server's lifespan when it is the top
    app; call it yourself when mounting it in your own app). A
    :class:`~wxa_async.rollout.RolloutStore` passed in is left open.
    """

    def __init__(self, store: str | RolloutStore, *, token: str | None = None,
                 refresh: float = 3.0, title: str = "wxa-async rollouts") -> None:
        if refresh <= 0:
            raise WxaValidationError("refresh must be > 0 seconds")
        self._url = store if isinstance(store, str) else None
        self._store = None if isinstance(store, str) else store
        self._reader = None if self._store is None else Reader(self._store)
        self._lock = asyncio.Lock()
        self._charts: dict[int, tuple[str, Chart]] = {}
        self.refresh = refresh
        self.title = title
        self._env = _environment()
        api = [
            Route("/rollouts", self.api_rollouts),
            Route("/rollouts/{name}", self.api_rollout),
            Route("/rollouts/{name}/chart", self.api_chart),
            Route("/rollouts/{name}/apps", self.api_apps),
            Route("/rollouts/{name}/apps/{appid}", self.api_app),
        ]
        routes = [
            Route("/", self.page_rollouts, name="rollouts"),
            Route("/rollouts/{name}", self.page_rollout, name="rollout"),
            Route("/rollouts/{name}/apps/{appid}", self.page_app, name="app"),
            Mount("/api", routes=api),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ]
        app = Starlette(routes=routes, lifespan=self._lifespan,
                        exception_handlers={HTTPException: self._http_error})
        self._app = Guard(app, token)

    def __repr__(self) -> str:  # the URL may carry a password
        return "Dashboard()"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the store if the dashboard opened it (twice is harmless)."""
        if self._url is not None and self._store is not None:
            store, self._store, self._reader = self._store, None, None
            await store.aclose()

    async def reader(self) -> Reader:
        if self._reader is None:
            async with self._lock:
                if self._reader is None:
                    assert self._url is not None
                    self._store = await RolloutStore.open(self._url)
                    self._reader = Reader(self._store)
        return self._reader

    # -- rendering ----------------------------------------------------------------------

    def _render(self, request: Request, template: str, status: int = 200,
                version: str = "", **context: Any) -> HTMLResponse:
        base = str(request.scope.get("root_path", "")).rstrip("/")

        def link(*segments: str, **params: Any) -> str:
            path = base + "/" + "/".join(quote(str(s), safe="") for s in segments)
            query = urlencode({k: v for k, v in params.items() if v not in (None, "")},
                              doseq=True)
            return path + ("?" + query if query else "")

        html = self._env.get_template(template).render(
            link=link, static=lambda name: f"{base}/static/{quote(name)}",
            title=self.title, refresh_ms=int(self.refresh * 1000), version=version,
            query_params=_query_params, **context)
        headers = {"x-dashboard-version": version} if version else None
        return HTMLResponse(html, status_code=status, headers=headers)

    def _not_found(self, request: Request, what: str) -> HTMLResponse:
        return self._render(request, "missing.html", status=404, what=what)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if "/api/" in request.url.path:
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 404:
            return self._not_found(request, "this page")
        return Response(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code,
                        media_type="text/plain")

    # -- pages --------------------------------------------------------------------------

    async def page_rollouts(self, request: Request) -> Response:
        rollouts = await (await self.reader()).rollouts()
        return self._render(request, "rollouts.html", rollouts=rollouts)

    async def page_rollout(self, request: Request) -> Response:
        reader = await self.reader()
        name = request.path_params["name"]
        rid = await reader.rid(name)
        if rid is None:
            return self._not_found(request, f"rollout {name}")
        version = await reader.version(rid)
        if request.query_params.get("since") == version:
            return Response(status_code=204, headers={"x-dashboard-version": version})
        query = apps_query(request.query_params)
        rollout = await reader.rollout(name)
        assert rollout is not None
        rejections, rejected = await reader.rejections(rid)
        return self._render(
            request, "rollout.html", version=version, rollout=rollout,
            chart=layout(await self._chart(reader, rid, version)),
            quota=await reader.quota(rid), last_change=await reader.last_change(rid),
            failures=await reader.failures(rid), rejections=rejections, rejected=rejected,
            page=await reader.apps(rid, query), errcodes=await reader.errcodes(rid),
            query=query)

    async def _chart(self, reader: Reader, rid: int, version: str) -> Chart:
        # Replaying the log is the page's costliest read: once per change of the store,
        # however many people watch.
        cached = self._charts.get(rid)
        if cached is None or cached[0] != version:
            cached = (version, await reader.chart(rid))
            self._charts[rid] = cached
        return cached[1]

    async def page_app(self, request: Request) -> Response:
        reader = await self.reader()
        name, appid = request.path_params["name"], request.path_params["appid"]
        rid = await reader.rid(name)
        row = None if rid is None else await reader.app(rid, appid)
        if rid is None or row is None:
            return self._not_found(request, f"app {appid} in rollout {name}")
        version = await reader.version(rid)
        if request.query_params.get("since") == version:
            return Response(status_code=204, headers={"x-dashboard-version": version})
        return self._render(request, "app.html", version=version, rollout_name=name,
                            app=row, timeline=await reader.timeline(name, appid))

    # -- the JSON API ---------------------------------------------------------------------

    async def _rid(self, name: str) -> tuple[Reader, int]:
        reader = await self.reader()
        rid = await reader.rid(name)
        if rid is None:
            raise HTTPException(404, f"no rollout named {name!r}")
        return reader, rid

    async def api_rollouts(self, request: Request) -> Response:
        rollouts = await (await self.reader()).rollouts()
        return JSONResponse({"rollouts": [r.to_json() for r in rollouts]})

    async def api_rollout(self, request: Request) -> Response:
        name = request.path_params["name"]
        reader, rid = await self._rid(name)
        rollout = await reader.rollout(name)
        assert rollout is not None
        rejections, rejected = await reader.rejections(rid, limit=_int(
            request.query_params.get("rejections"), 20, 0, _MAX_PER_PAGE))
        return JSONResponse({
            **rollout.to_json(), "version": await reader.version(rid),
            "quota": await reader.quota(rid),
            "last_transition_at": await reader.last_change(rid),
            "failures": [f.to_json() for f in await reader.failures(rid)],
            "rejected": rejected, "rejections": [r.to_json() for r in rejections],
        })

    async def api_chart(self, request: Request) -> Response:
        reader, rid = await self._rid(request.path_params["name"])
        buckets = _int(request.query_params.get("buckets"), 120, 1, 1000)
        return JSONResponse((await reader.chart(rid, buckets)).to_json())

    async def api_apps(self, request: Request) -> Response:
        reader, rid = await self._rid(request.path_params["name"])
        query = apps_query(request.query_params)
        page = await reader.apps(rid, query)
        return JSONResponse({"total": page.total, "page": query.page,
                             "per_page": query.per_page, "pages": page.pages,
                             "apps": [r.to_json() for r in page.rows]})

    async def api_app(self, request: Request) -> Response:
        name, appid = request.path_params["name"], request.path_params["appid"]
        reader, rid = await self._rid(name)
        row = await reader.app(rid, appid)
        if row is None:
            raise HTTPException(404, f"no app {appid!r} in rollout {name!r}")
        timeline = await reader.timeline(name, appid)
        return JSONResponse({**row.to_json(), "timeline": [
            {"at": t.at, "from": t.from_state, "to": t.to_state, "detail": t.detail}
            for t in timeline]})


def create_app(store: str | RolloutStore, *, token: str | None = None,
               refresh: float = 3.0, title: str = "wxa-async rollouts") -> Dashboard:
    """The dashboard over ``store`` (a store URL, or an open
    :class:`~wxa_async.rollout.RolloutStore` that stays the caller's to close).

    Mount it in your own ASGI app (``app.mount("/rollouts", dashboard)``) or serve it
    with uvicorn. With ``token`` every request must carry it (bearer, or the basic-auth
    password). Pages refresh their live parts every ``refresh`` seconds.
    """
    return Dashboard(store, token=token, refresh=refresh, title=title)
