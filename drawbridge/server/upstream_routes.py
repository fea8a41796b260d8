"""The upstream conda mirrors passed through to air-gapped clients, and the channel list.

A local mirror (a folder) is served from disk. An HTTP mirror's files are kept in
`<home>/cache/upstream-conda/`: packages and shards after the first download (they never
change under their name), index files refreshed from the mirror on every request (a 304
when unchanged) and served from the last copy, marked stale, when the mirror is down.
"""

from __future__ import annotations

import json
import logging
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
)
from drawbridge.server.context import Context, context
from drawbridge.channel.storage import write_bytes_atomic
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
    return JSONResponse(
        {
            "channels": {
                name: {"conda": f"{base}/{name}/conda", "simple": f"{base}/{name}/simple/"}
                for name in ctx.access.readable(ctx.identity(request), ctx.channels.names())
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
    """A mirror's file: from disk, from the package cache, or relayed."""
    ctx = context(request)
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
    return _index_response(request, mirror, ctx, subdir, filename, media_type)


def _download(url: str, target: Path) -> None:
    """Fetch a package into the cache atomically; a failed download leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            httpx.stream("GET", url, timeout=UPSTREAM_TIMEOUT) as response,
        ):
            if response.status_code == 404:
                raise HTTPException(404, f"the upstream mirror has no {url.rsplit('/', 2)[-2:]}")
            if response.status_code != 200:
                raise HTTPException(
                    502, f"upstream mirror answered {response.status_code} for {url}"
                )
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
        os.replace(partial, target)
    except httpx.HTTPError as error:
        raise HTTPException(502, f"upstream mirror unreachable: {url}: {error}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _refresh_index(url: str, cached: Path) -> bool:
    """Bring the cached copy of a mirror's index file up to date; False if the mirror failed.

    The mirror is asked with the cached copy's validators, so an unchanged file costs a 304.
    A 404 is passed on; a mirror that cannot be reached leaves the last copy in place.
    """
    validators_path = cached.with_name(cached.name + ".validators.json")
    validators = (
        json.loads(validators_path.read_text())
        if cached.is_file() and validators_path.is_file()
        else {}
    )
    headers = {
        k: v
        for k, v in (
            ("If-None-Match", validators.get("etag")),
            ("If-Modified-Since", validators.get("last-modified")),
        )
        if v
    }
    try:
        answer = httpx.get(url, headers=headers, timeout=UPSTREAM_TIMEOUT)
    except httpx.HTTPError:
        return False
    if answer.status_code == 404:
        raise HTTPException(404, f"the upstream mirror has no {url}")
    if answer.status_code == 304 and cached.is_file():
        return True
    if answer.status_code != 200:
        return False
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(cached, answer.content)
    kept = {k: answer.headers[k] for k in ("etag", "last-modified") if k in answer.headers}
    write_bytes_atomic(validators_path, json.dumps(kept).encode())
    return True


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
    cached = ctx.home.cache_dir / "upstream-conda" / mirror.name / subdir / filename
    fresh = _refresh_index(url, cached)
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
