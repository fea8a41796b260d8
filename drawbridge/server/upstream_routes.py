"""The upstream conda mirrors passed through to air-gapped clients, and the channel list.

A local mirror (a folder) is served from disk; an HTTP mirror is relayed, its packages
kept in `<home>/cache/upstream-conda/` after the first download (a package never changes
under its name), its index files fetched afresh with the client's validators.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from drawbridge.channel.upstream_conda import (
    UPSTREAM_PREFIX,
    UpstreamConda,
    check_upstream_file,
    upstream_channels,
)
from drawbridge.server.context import Context, context
from drawbridge.server.responses import CACHE_IMMUTABLE, CACHE_INDEX, file_response

router = APIRouter()

#: request headers passed on to an HTTP mirror, and response headers passed back
RELAYED_REQUEST_HEADERS = ("if-none-match", "if-modified-since", "accept-encoding")
RELAYED_RESPONSE_HEADERS = ("content-type", "content-encoding", "etag", "last-modified")
UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _mirror(ctx: Context, name: str) -> UpstreamConda:
    mirrors = upstream_channels(ctx.home.bridge.upstream_conda)
    if name not in mirrors:
        known = ", ".join(sorted(mirrors)) or "none is configured"
        raise HTTPException(404, f"no upstream conda channel {name!r} ({known})")
    return mirrors[name]


@router.get("/api/channels", summary="Drawbridge's channels and the upstream conda mirrors it passes on")
def channel_list(request: Request) -> JSONResponse:
    ctx = context(request)
    ctx.check_read_any(request, "the channel list")
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "channels": {
                name: {"conda": f"{base}/{name}/conda", "simple": f"{base}/{name}/simple/"}
                for name in ctx.channels.names()
            },
            "upstream": {
                name: {"conda": f"{base}/{UPSTREAM_PREFIX}/{name}"}
                for name in upstream_channels(ctx.home.bridge.upstream_conda)
            },
        }
    )


@router.api_route(
    f"/{UPSTREAM_PREFIX}/{{name}}/{{subdir}}/shards/{{filename}}",
    methods=["GET", "HEAD"],
    summary="A CEP-16 repodata shard of an upstream conda mirror",
)
def upstream_shard(request: Request, name: str, subdir: str, filename: str) -> Response:
    return _serve(request, name, subdir, filename, shard=True)


@router.api_route(
    f"/{UPSTREAM_PREFIX}/{{name}}/{{subdir}}/{{filename}}",
    methods=["GET", "HEAD"],
    summary="A file of an upstream conda mirror (repodata or a package)",
)
def upstream_file(request: Request, name: str, subdir: str, filename: str) -> Response:
    return _serve(request, name, subdir, filename, shard=False)


def _serve(request: Request, name: str, subdir: str, filename: str, shard: bool) -> Response:
    """A mirror's file: from disk, from the package cache, or relayed."""
    ctx = context(request)
    ctx.check_read_any(request, f"upstream channel {name!r}")
    mirror = _mirror(ctx, name)
    if not check_upstream_file(subdir, filename, shard):
        raise HTTPException(404, f"{subdir}/{filename} is not a conda index file, shard or package")
    if shard:
        filename = f"shards/{filename}"
    is_package = shard or filename.endswith((".conda", ".tar.bz2"))  # shards are content-addressed
    cache_control = CACHE_IMMUTABLE if is_package else CACHE_INDEX
    media_type = "application/json" if filename.endswith(".json") else "application/octet-stream"
    root = mirror.local_root
    if root is not None:
        try:
            return file_response(request, root / subdir / filename, media_type, cache_control)
        except FileNotFoundError:
            raise HTTPException(404, f"upstream {name!r} has no {subdir}/{filename}") from None
    if is_package:
        cached = ctx.home.cache_dir / "upstream-conda" / name / subdir / filename
        if not cached.is_file():
            _download(mirror.remote_url(subdir, filename), cached)
        return file_response(request, cached, media_type, cache_control)
    return _relay(request, mirror.remote_url(subdir, filename), cache_control)


def _download(url: str, target: Path) -> None:
    """Fetch a package into the cache atomically; a failed download leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out, httpx.stream("GET", url, timeout=UPSTREAM_TIMEOUT) as response:
            if response.status_code == 404:
                raise HTTPException(404, f"the upstream mirror has no {url.rsplit('/', 2)[-2:]}")
            if response.status_code != 200:
                raise HTTPException(502, f"upstream mirror answered {response.status_code} for {url}")
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
        os.replace(partial, target)
    except httpx.HTTPError as error:
        raise HTTPException(502, f"upstream mirror unreachable: {url}: {error}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _relay(request: Request, url: str, cache_control: str) -> Response:
    """Pass an index file through, with the client's validators and the mirror's answers."""
    headers = {k: v for k, v in request.headers.items() if k in RELAYED_REQUEST_HEADERS}
    try:
        answer = httpx.get(url, headers=headers, timeout=UPSTREAM_TIMEOUT)
    except httpx.HTTPError as error:
        raise HTTPException(502, f"upstream mirror unreachable: {url}: {error}") from None
    if answer.status_code == 404:
        raise HTTPException(404, f"the upstream mirror has no {url}")
    if answer.status_code not in (200, 304):
        raise HTTPException(502, f"upstream mirror answered {answer.status_code} for {url}")
    relayed = {k: v for k, v in answer.headers.items() if k in RELAYED_RESPONSE_HEADERS}
    relayed["Cache-Control"] = cache_control
    body = b"" if request.method == "HEAD" or answer.status_code == 304 else answer.content
    return Response(body, status_code=answer.status_code, headers=relayed)
