"""The upstream conda mirrors passed through to air-gapped clients, and the channel list.

A local mirror (a folder) is served from disk. An HTTP mirror's files are kept in
`<home>/cache/upstream-conda/`: packages and shards after the first download (they never
change under their name), index files refreshed from the mirror on every request (a 304
when unchanged) and served from the last copy, marked stale, when the mirror is down.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from drawbridge.channel.upstream_conda import (
    UPSTREAM_PREFIX,
    UpstreamConda,
    check_upstream_file,
)
from drawbridge.server.context import Context, context
from drawbridge.server.upstream_relay import download_package, refresh_index, relay_copy
from drawbridge.server.responses import CACHE_IMMUTABLE, CACHE_INDEX, file_response

router = APIRouter()

log = logging.getLogger("drawbridge")
UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _mirror(ctx: Context, name: str) -> UpstreamConda:
    mirrors = ctx.upstream_mirrors
    if name not in mirrors:
        known = ", ".join(sorted(mirrors)) or "none is configured"
        raise HTTPException(404, f"no upstream conda channel {name!r} ({known})")
    return mirrors[name]


@router.get(
    "/api/channels", summary="Drawbridge's channels and the upstream conda mirrors it passes on"
)
def channel_list(request: Request) -> JSONResponse:
    ctx = context(request)
    base = str(request.base_url).rstrip("/")
    bases = ctx.channels.bases()
    readable = ctx.access.readable(ctx.identity(request), ctx.channels.names())
    return JSONResponse(
        {
            "channels": {
                name: {
                    "conda": f"{base}/{name}/conda",
                    "simple": f"{base}/{name}/simple/",
                    "bases": [
                        str(level)
                        for level in bases.get(name, ())
                        if level.upstream or level.name in readable
                    ],
                }
                for name in readable
            },
            "upstream": {
                name: {"conda": f"{base}/{UPSTREAM_PREFIX}/{name}"} for name in ctx.upstream_mirrors
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
    ctx = context(request)
    return serve_mirror_file(request, ctx, _mirror(ctx, name), subdir, filename, shard)


def serve_mirror_file(
    request: Request, ctx: Context, mirror: UpstreamConda, subdir: str, filename: str, shard: bool
) -> Response:
    """A mirror's file: from disk, from the package cache, or relayed; 404 if it has none."""
    name = mirror.name
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
        cached = relay_copy(ctx.home.cache_dir, mirror, subdir, filename)
        if not cached.is_file():
            download_package(mirror.remote_url(subdir, filename), cached)
        return file_response(request, cached, media_type, cache_control)
    return _index_response(request, mirror, ctx, subdir, filename, media_type)


def _index_response(
    request: Request,
    mirror: UpstreamConda,
    ctx: Context,
    subdir: str,
    filename: str,
    media_type: str,
) -> Response:
    """A mirror's index file: fresh when the mirror answers, else the last copy, marked stale."""
    url = mirror.remote_url(subdir, filename)
    cached = relay_copy(ctx.home.cache_dir, mirror, subdir, filename)
    fresh = refresh_index(url, cached)
    if not cached.is_file():
        raise HTTPException(502, f"upstream mirror unreachable and nothing cached: {url}")
    response = file_response(request, cached, media_type, CACHE_INDEX)
    if not fresh:
        response.headers["Warning"] = '110 drawbridge "stale: the upstream mirror did not answer"'
        log.warning(
            "upstream mirror %s did not answer for %s/%s; served the last copy",
            mirror.name,
            subdir,
            filename,
        )
    return response
