"""The HTTP API's documentation page, /docs (Swagger UI, reading /openapi.json), with every
script and stylesheet served by Drawbridge itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and start them with an inline
script: blank inside the air gap, where no CDN answers. Here Swagger UI 5 (it reads OpenAPI
3.1) comes from the fastapi-offline package, served under `/static/api-docs/` and started by
`static/api-docs.js`. /redoc redirects to /docs: ReDoc always loads its logo from a CDN.
The page carries a Content-Security-Policy like the web UI's (scripts from this server
only), except that styles may be inline: Swagger UI injects its own. The page and assets
are read like any page, so a private server shows them to token holders only.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter()

SWAGGER_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/static/api-docs"
#: the assets a page may load, by file name, with their media types
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
#: Swagger UI's starter, ours: no inline script
_STARTER = resources.files("drawbridge.server.ui").joinpath("static/api-docs.js").read_bytes()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_CACHED = {"Cache-Control": "public, max-age=86400"}


def _prefix(request: Request) -> str:
    """The path prefix the page was reached under (`/t/<token>` or nothing), escaped."""
    return html.escape(request.scope.get("root_path", ""), quote=True)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    """A whole page with the documentation's security headers; `head` and `body` are HTML."""
    return HTMLResponse(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>\n{head}</head><body>{body}</body></html>",
        headers=_HEADERS,
    )


@router.api_route(SWAGGER_PATH, methods=["GET", "HEAD"], include_in_schema=False)
def swagger(request: Request) -> HTMLResponse:
    """The API in Swagger UI: every route, tried from the page."""
    prefix = _prefix(request)
    return _page(
        "Drawbridge API",
        f'<link rel="stylesheet" href="{prefix}{ASSETS_PATH}/swagger-ui.css">'
        f'<script src="{prefix}{ASSETS_PATH}/swagger-ui-bundle.js" defer></script>'
        f'<script src="{prefix}{ASSETS_PATH}/api-docs.js" defer></script>',
        f'<div id="swagger-ui" data-openapi="{prefix}/openapi.json"></div>',
    )


@router.api_route(REDOC_PATH, methods=["GET", "HEAD"], include_in_schema=False)
def redoc(request: Request) -> RedirectResponse:
    """FastAPI's other documentation page, where people look for it: sent to /docs."""
    return RedirectResponse(request.scope.get("root_path", "") + SWAGGER_PATH, status_code=308)


@router.api_route(ASSETS_PATH + "/{name}", methods=["GET", "HEAD"], include_in_schema=False)
def asset(name: str) -> Response:
    """One script or stylesheet of the documentation pages."""
    if name == "api-docs.js":
        return Response(_STARTER, media_type="text/javascript; charset=utf-8", headers=_CACHED)
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, f"no documentation asset {name!r}")
    return Response((_ASSETS_DIR / name).read_bytes(), media_type=media_type, headers=_CACHED)
