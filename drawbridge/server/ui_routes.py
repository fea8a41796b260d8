"""The web UI's front and channel pages, and the bare liveness check."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import LIVENESS_PATH, context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter()


@router.api_route(
    LIVENESS_PATH, methods=["GET", "HEAD"], summary="Liveness: answers while the server runs"
)
def health() -> JSONResponse:
    """The one route that needs no token when reading is private, so it says nothing else."""
    return JSONResponse({"status": "ok"})


@router.api_route(
    "/",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
    tags=[UI_TAG],
)
def home_page(request: Request) -> HTMLResponse:
    ctx = context(request)
    base = str(request.base_url).rstrip("/")
    rows = "".join(
        f"<tr><td><a href='/{c}/'>{html.escape(c)}</a></td>"
        f"<td><code>{base}/{c}/simple/</code></td><td><code>{base}/{c}/conda</code></td></tr>"
        for c in ctx.access.readable(ctx.identity(request), ctx.channels.names())
    )
    body = (
        "<h1>Drawbridge</h1><p>Approved PyPI packages for conda and pip, inside the air gap.</p>"
        "<p><a href='/ui/recipes'>Recipes and review</a> · <a href='/ui/requests'>Bridging "
        "requests</a></p>"
        "<table><tr><th>channel</th><th>pip index</th><th>conda channel</th></tr>"
        f"{rows}</table>"
    )
    return page_response("Drawbridge", body)


@router.api_route(CHANNEL, methods=["GET", "HEAD"], include_in_schema=False)
def channel_page_without_slash(request: Request, channel: str) -> RedirectResponse:
    """`/<channel>` to its page; 404 here for an unknown one (Starlette's slash redirect
    would send any two-segment path to `/<a>/<b>/` first)."""
    context(request).check_read(request, channel)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/{channel}/", 307)


@router.api_route(
    CHANNEL + "/",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    include_in_schema=False,
    tags=[UI_TAG],
)
def channel_page(request: Request, channel: str) -> HTMLResponse:
    ctx = context(request)
    ctx.check_read(request, channel)
    base = str(request.base_url).rstrip("/")
    projects = "".join(
        f"<li><a href='/{channel}/simple/{p}/'>{html.escape(p)}</a></li>"
        for p in ctx.channels.projects(channel)
    )
    packages = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.version)}</td>"
        f"<td>{html.escape(r.build)}</td><td>{r.subdir}</td></tr>"
        for r in ctx.channels.conda_packages(channel)
    )
    body = (
        f"<h1>Channel {html.escape(channel)}</h1>"
        f"<p>pip: <code>pip install --index-url {base}/{channel}/simple/ NAME</code><br>"
        f"conda: <code>conda install -c {base}/{channel}/conda NAME</code></p>"
        f"<h2>Python projects</h2><ul>{projects or '<li>none yet</li>'}</ul>"
        "<h2>Conda packages</h2><table><tr><th>name</th><th>version</th><th>build</th>"
        f"<th>subdir</th></tr>{packages}</table>"
    )
    return page_response(f"Drawbridge: {html.escape(channel)}", body)
