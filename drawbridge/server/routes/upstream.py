"""The upstream conda mirrors passed through to air-gapped clients, and the channel list.

A local mirror (a folder) is served from disk. An HTTP mirror's files are kept in
`<home>/cache/upstream-conda/` (`upstream_relay`): packages and shards after the first
download (they never change under their name), index files refreshed from the mirror on
every request (a 304 when unchanged) and served from the last copy, marked stale, when the
mirror is down.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from drawbridge.channel.upstream_conda import UPSTREAM_PREFIX, UpstreamConda
from drawbridge.server.context import Context, context
from drawbridge.server.upstream_relay import serve_mirror_file

router = APIRouter()


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
    return serve_mirror_file(
        request, ctx.home.cache_dir, _mirror(ctx, name), subdir, filename, shard
    )
