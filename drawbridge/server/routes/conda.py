"""The conda view of a channel: repodata (plain, .zst, gzip), CEP-16 shards, packages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from pathlib import Path

from drawbridge.channel import repodata_files
from drawbridge.channel.conda_index import INDEX_FILES
from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.channel.upstream_conda import check_upstream_file
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import context
from drawbridge.server.index_files import answer_response, index_file_response
from drawbridge.server.inherited import answer_merged
from drawbridge.server.upstream_relay import serve_mirror_file
from drawbridge.server.replication import FETCHING_HEADERS, not_fetched_yet
from drawbridge.server.responses import CACHE_IMMUTABLE, CACHE_INDEX, file_response

router = APIRouter()


@router.api_route(
    CHANNEL + "/conda/channeldata.json", methods=["GET", "HEAD"], summary="conda channeldata.json"
)
def channeldata(request: Request, channel: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    if ctx.inherited.inherits(channel):
        merged = ctx.inherited.channeldata(channel, ctx.unreadable_levels(request, channel))
        answer = answer_merged(
            merged, "channeldata.json", "application/json", dict(request.headers)
        )
        if answer is None:
            raise HTTPException(404, f"{channel} has no channeldata.json")
        return answer_response(answer)
    repodata_files.ensure_channel(ctx.channels.conda_dir(channel))
    path = ctx.channels.conda_dir(channel) / "channeldata.json"
    return file_response(request, path, "application/json", CACHE_INDEX)


@router.api_route(
    CHANNEL + "/conda/{subdir}/shards/{name}",
    methods=["GET", "HEAD"],
    summary="A CEP-16 repodata shard",
)
def shard(request: Request, channel: str, subdir: str, name: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    if subdir not in KNOWN_SUBDIRS or "/" in name or name.startswith("."):
        raise HTTPException(404, "no such shard")
    skip = ctx.unreadable_levels(request, channel)
    for path in ctx.inherited.candidates(channel, "conda", f"{subdir}/shards/{name}", skip):
        try:
            return file_response(request, Path(path), "application/octet-stream", CACHE_IMMUTABLE)
        except FileNotFoundError:
            continue
    inherited = ctx.inherited
    if inherited.inherits(channel) and inherited.remake_shards(channel, subdir, skip):
        try:  # a merged shard the sweep removed, named by an older merged index
            remade = inherited.shards_dir / name
            return file_response(request, remade, "application/octet-stream", CACHE_IMMUTABLE)
        except FileNotFoundError:
            pass
    raise HTTPException(404, f"no shard {name!r} in {channel}/{subdir}")


@router.api_route(
    CHANNEL + "/conda/{subdir}/{name}",
    methods=["GET", "HEAD"],
    summary="Repodata or a conda package",
)
def subdir_file(request: Request, channel: str, subdir: str, name: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    if subdir not in KNOWN_SUBDIRS or name.startswith("."):
        raise HTTPException(404, f"{subdir!r} is not a conda subdir")
    path = ctx.channels.conda_dir(channel) / subdir / name
    if name in INDEX_FILES and ctx.inherited.inherits(channel):
        return _merged_index_file(request, channel, subdir, name)
    if name in INDEX_FILES:
        media_type, gzip_twin = INDEX_FILES[name]
        if name in repodata_files.MADE_FILES:
            repodata_files.ensure(path.parent)
        try:
            return index_file_response(
                ctx.index_cache, request, path, media_type, CACHE_INDEX, gzip_twin=gzip_twin
            )
        except FileNotFoundError:
            raise HTTPException(404, f"{channel}/{subdir} has no {name}") from None
    if not name.endswith((".conda", ".tar.bz2")):
        raise HTTPException(404, f"no file {name!r} in {channel}/{subdir}")
    skip = ctx.unreadable_levels(request, channel)
    for level in ctx.inherited.served(channel, skip):  # the nearest level that has it
        if level.upstream:
            mirror = ctx.upstream_mirrors.get(level.name)
            if mirror is None or not check_upstream_file(subdir, name, shard=False):
                continue
            try:
                return serve_mirror_file(
                    request, ctx.home.cache_dir, mirror, subdir, name, shard=False
                )
            except HTTPException as error:
                if error.status_code == 404:
                    continue
                raise
        path = ctx.channels.conda_dir(level.name) / subdir / name
        try:
            return file_response(request, path, "application/octet-stream", CACHE_IMMUTABLE)
        except FileNotFoundError:
            continue
    if not_fetched_yet(ctx.home, ctx.database, channel, f"conda/{subdir}/{name}"):
        raise HTTPException(
            503, f"{name} is being fetched from the primary; try again", FETCHING_HEADERS
        )
    raise HTTPException(404, f"no package {name!r} in {channel}/{subdir}")


def _merged_index_file(request: Request, channel: str, subdir: str, name: str) -> Response:
    """An inheriting channel's repodata (or shard index), merged from its levels."""
    ctx = context(request)
    inherited, skip = ctx.inherited, ctx.unreadable_levels(request, channel)
    media_type, gzip_twin = INDEX_FILES[name]
    if name == "repodata_shards.msgpack.zst":
        merged = inherited.shard_index(channel, subdir, skip)
    else:
        merged = inherited.repodata(channel, subdir, skip)
    answer = answer_merged(merged, name, media_type, dict(request.headers), gzip_twin=gzip_twin)
    if answer is None:
        raise HTTPException(404, f"{channel}/{subdir} has no {name}")
    return answer_response(answer)
