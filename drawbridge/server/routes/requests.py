"""Bridging requests over HTTP: `drawbridge lock --request` files them, readers list them."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from drawbridge.bridge.bridging_requests import most_wanted_projects
from drawbridge.bridge.errors import BridgeError
from drawbridge.server.context import context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter()


class NewRequest(BaseModel):
    """What a client says about a package it could not get."""

    kind: Literal["conda", "pip"]
    name: str = Field(min_length=1, max_length=200)
    spec: str = Field(min_length=1, max_length=300)
    platforms: list[str] = Field(default_factory=list, max_length=10)
    reason: str = Field(default="", max_length=2000)
    source: str = Field(default="", max_length=300)


@router.post("/api/requests", status_code=201, summary="Ask the maintainers to bridge a package")
def file_request(request: Request, body: NewRequest) -> JSONResponse:
    ctx = context(request)
    identity = ctx.identity(request)
    try:
        filed = ctx.requests.file(
            body.kind,
            body.name,
            body.spec,
            body.platforms,
            body.reason,
            body.source,
            identity.user if not identity.anonymous else "anonymous",
        )
    except BridgeError as error:
        raise HTTPException(400, str(error)) from None
    return JSONResponse(asdict(filed), status_code=201)


@router.get("/api/requests", summary="Bridging requests and where they stand")
def list_requests(request: Request, state: str | None = None) -> JSONResponse:
    ctx = context(request)
    return JSONResponse([asdict(r) for r in ctx.requests.all(state)])


@router.get(
    "/ui/requests",
    response_class=HTMLResponse,
    summary="Bridging requests, for maintainers to decide",
    tags=[UI_TAG],
)
def request_page(request: Request) -> HTMLResponse:
    ctx = context(request)
    requests = ctx.requests.all()
    rows = "".join(
        f"<tr><td>{r.id}</td><td>{r.kind}</td><td><code>{html.escape(r.spec)}</code></td>"
        f"<td>{html.escape(', '.join(r.platforms))}</td><td>{html.escape(r.reason)}</td>"
        f"<td>{html.escape(r.requested_by)}</td><td class='{r.state}'>{r.state}</td>"
        f"<td>{html.escape(r.comment)}</td></tr>"
        for r in reversed(requests)
    )
    pending = sum(1 for r in requests if r.state == "pending")
    wanted = "".join(
        f"<tr><td>{html.escape(w.project)}</td><td>{html.escape(w.channel)}</td>"
        f"<td>{w.misses}</td><td>{w.last_asked}</td><td>{html.escape(w.status)}</td></tr>"
        for w in most_wanted_projects(ctx.channels, ctx.home.policy)
    )
    body = (
        f"<h1>Bridging requests</h1><p>{pending} waiting. Decide with "
        "<code>drawbridge request approve N</code> (bridges it now) or "
        "<code>drawbridge request reject N --comment WHY</code>.</p>"
        "<table><tr><th>#</th><th>kind</th><th>asked for</th><th>platforms</th><th>why it was "
        "missing</th>"
        f"<th>by</th><th>state</th><th>comment</th></tr>{rows}</table>"
        "<h2 id='wanted'>Most wanted</h2><p>Projects pip and uv asked for and did not find, "
        "counted per channel (never who asked): <code>drawbridge request list --wanted</code>."
        "</p><table><tr><th>project</th><th>channel</th><th>misses</th><th>last asked</th>"
        f"<th>now</th></tr>{wanted}</table>"
    )
    return page_response("Drawbridge: requests", body)
