"""The browsable web UI: the channel tree at `/`, a channel's projects with a search, a
project's and a release's page, the script behind the copy buttons; and the bare liveness
check.

The routes read `channel.catalogue` and hand its records to `catalogue_pages`. Every page
obeys the read rules: a channel the visitor may not read is left out of the tree and is a
404 everywhere else (`channel.access`: `Access.may_read`, `Context.check_read`).
"""

from __future__ import annotations

from functools import partial

from html import escape
from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from drawbridge.channel import catalogue
from drawbridge.server.ui import catalogue_pages as render
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import ICON_PATH, LIVENESS_PATH, Context, context
from drawbridge.server.pages import UI_TAG, gzipped, page_response
from drawbridge.server.replication import replica_health

router = APIRouter()
#: the copy buttons' script, read once (it ships inside the package)
SCRIPT = resources.files("drawbridge.server.ui").joinpath("static/ui.js").read_bytes()
ICON = resources.files("drawbridge.server.ui").joinpath("static/icon.svg").read_bytes()
#: a search longer than any project name finds nothing; refused before any work
MAX_QUERY = 200


#: the route decorator of a page of the web UI (GET and HEAD, HTML, its errors pages too)
ui_page = partial(
    router.api_route,
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
    tags=[UI_TAG],
)


@router.api_route(
    LIVENESS_PATH, methods=["GET", "HEAD"], summary="Liveness: answers while the server runs"
)
def health(request: Request) -> JSONResponse:
    """The one route that needs no token when reading is private, so it says nothing else
    about the channels; a replica adds its standby's replay lag and how many files it
    still lacks (`server.replication`)."""
    ctx = context(request)
    if not ctx.home.server.replica_of:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "ok", **replica_health(ctx.home, ctx.database)})


@router.api_route(render.SCRIPT_PATH, methods=["GET", "HEAD"], include_in_schema=False)
def script() -> Response:
    """The web UI's one script file (served from here: no CDN inside the air gap)."""
    return Response(
        SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.api_route(ICON_PATH, methods=["GET", "HEAD"], include_in_schema=False)
def icon() -> Response:
    """The icon a browser asks every server for (an SVG: browsers read it by its type)."""
    return Response(
        ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


def _root(request: Request) -> str:
    """The prefix links keep: `/t/<token>` when the page was opened through it."""
    root: str = request.scope.get("root_path", "")
    return root


def _urls(ctx: Context, request: Request, channel: str) -> render.Urls:
    url = request.url
    return render.Urls(
        origin=f"{url.scheme}://{url.netloc}",
        channel=channel,
        public=ctx.access.public(channel),
        mirrors=tuple(sorted(ctx.upstream_mirrors)),
    )


def _page(title: str, body: str, request: Request) -> HTMLResponse:
    """A page with the UI's script, gzipped for a client that takes it."""
    answer = page_response(escape(title), body, script=_root(request) + render.SCRIPT_PATH)
    return gzipped(answer, request.headers.get("accept-encoding", ""))


@ui_page("/")
def home_page(request: Request) -> HTMLResponse:
    """The channel tree: every channel the visitor may read, grouped by owner."""
    ctx = context(request)
    identity = ctx.identity(request)
    groups = catalogue.channel_tree(ctx.database, lambda name: ctx.access.may_read(identity, name))
    return _page("Drawbridge", render.tree_body(groups, _root(request)), request)


@router.api_route(CHANNEL, methods=["GET", "HEAD"], include_in_schema=False)
def channel_page_without_slash(request: Request, channel: str) -> RedirectResponse:
    """`/<channel>` to its page; 404 here for an unknown one (Starlette's slash redirect
    would send any two-segment path to `/<a>/<b>/` first)."""
    context(request).check_read(request, channel)
    return RedirectResponse(f"{_root(request)}/{channel}/", 307)


@ui_page(CHANNEL + "/")
def channel_page(request: Request, channel: str, q: str = "", page: int = 1) -> HTMLResponse:
    """A channel's projects, `render.PAGE_SIZE` a page (`?page=`, from 1); `?q=` keeps those
    whose name holds every word of it."""
    ctx = context(request)
    ctx.check_read(request, channel)
    identity = ctx.identity(request)
    readable = partial(ctx.access.may_read, identity)
    entry = catalogue.channel_entry(ctx.database, channel, readable)
    if entry is None:
        raise HTTPException(404, f"no channel {channel!r}")
    query = q.strip()[:MAX_QUERY]
    levels = [
        level.name
        for level in ctx.channels.levels(channel)
        if not level.upstream and (level.name == channel or readable(level.name))
    ]
    projects = catalogue.projects_through(ctx.database, levels, query)
    pages = render.page_count(len(projects))
    if not 1 <= page <= pages:
        raise HTTPException(404, f"no page {page} of channel {channel}: {pages} pages")
    urls = _urls(ctx, request, channel)
    body = render.channel_body(entry, projects, query, urls, _root(request), page)
    return _page(f"Drawbridge: {channel}", body, request)


def _detail(request: Request, channel: str, project: str) -> catalogue.ProjectDetail:
    ctx = context(request)
    ctx.check_read(request, channel)
    detail = catalogue.project_detail(ctx.database, channel, project)
    if detail is None:
        raise HTTPException(404, f"no project {project!r} in channel {channel!r}")
    return detail


@ui_page(CHANNEL + "/pypi/{project}/")
def project_page(request: Request, channel: str, project: str) -> HTMLResponse:
    """A project: its versions newest first, each with its files and conda packages."""
    detail = _detail(request, channel, project)
    ctx = context(request)
    urls = _urls(ctx, request, channel)
    docs = ctx.docs.versions(channel, detail.name)
    advisories = ctx.advisories(detail.name, [r.version for r in detail.releases])
    body = render.project_body(
        channel, detail, urls, _root(request), docs=docs, advisories=advisories
    )
    return _page(f"{detail.display_name} in {channel}", body, request)


@ui_page(CHANNEL + "/pypi/{project}/{version}/")
def release_page(request: Request, channel: str, project: str, version: str) -> HTMLResponse:
    """One release of a project, with snippets that pin it."""
    detail = _detail(request, channel, project)
    release = detail.release(version)
    if release is None:
        raise HTTPException(
            404, f"no version {version!r} of {detail.display_name!r} in {channel!r}"
        )
    ctx = context(request)
    urls = _urls(ctx, request, channel)
    docs = ctx.docs.versions(channel, detail.name)
    body = render.project_body(channel, detail, urls, _root(request), only=release, docs=docs)
    return _page(f"{detail.display_name} {version} in {channel}", body, request)
