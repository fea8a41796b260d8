"""The pip view of a channel: PEP 503/691 simple index, files, PEP 658 metadata, JSON API."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from packaging.utils import canonicalize_name

from drawbridge.channel.errors import UnknownProject
from drawbridge.channel.json_api import project_document
from drawbridge.channel.simple_pages import HTML_TYPE, JSON_TYPE
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import Context, context
from drawbridge.server.index_files import answer_response, index_file_response
from drawbridge.server.inherited import answer_merged
from drawbridge.server.negotiation import choose_simple_format
from drawbridge.server.replication import FETCHING_HEADERS, not_fetched_yet
from drawbridge.server.responses import CACHE_IMMUTABLE, CACHE_INDEX, bytes_response, file_response

router = APIRouter()


def _simple_page(request: Request, ctx: Context, channel: str, project: str | None) -> Response:
    ctx.check_read(request, channel)
    media_type = choose_simple_format(
        request.headers.get("accept"), request.query_params.get("format")
    )
    if media_type is None:
        raise HTTPException(406, f"can serve only {JSON_TYPE}, {HTML_TYPE} or text/html")
    if ctx.inherited.inherits(channel):
        skip = ctx.unreadable_levels(request, channel)
        merged = ctx.inherited.simple_page(channel, project, skip)
        answer = answer_merged(
            merged,
            "json" if media_type == JSON_TYPE else "html",
            media_type,
            dict(request.headers),
            vary="Accept",
            gzip_twin=True,
        )
        if answer is None:
            raise HTTPException(404, f"no project {project!r} in channel {channel!r} or its bases")
        return answer_response(answer)
    folder = ctx.channels.simple_dir(channel)
    if project is not None:
        folder = folder / project
    page = folder / ("index.json" if media_type == JSON_TYPE else "index.html")
    try:
        return index_file_response(
            ctx.index_cache, request, page, media_type, CACHE_INDEX, vary="Accept", gzip_twin=True
        )
    except FileNotFoundError:
        raise HTTPException(404, f"no project {project!r} in channel {channel!r}") from None


def _project(request: Request, channel: str, project: str, alias: bool) -> Response:
    ctx = context(request)
    normalised = canonicalize_name(project)
    if normalised != project or not request.url.path.endswith("/"):
        prefix = "/simple" if alias else f"/{channel}/simple"
        return RedirectResponse(f"{request.scope.get('root_path', '')}{prefix}/{normalised}/", 301)
    return _simple_page(request, ctx, channel, normalised)


@router.api_route("/simple/", methods=["GET", "HEAD"], include_in_schema=False)
def default_simple_root(request: Request) -> Response:
    ctx = context(request)
    return _simple_page(request, ctx, ctx.default_channel, None)


@router.api_route("/simple/{project}/", methods=["GET", "HEAD"], include_in_schema=False)
@router.api_route("/simple/{project}", methods=["GET", "HEAD"], include_in_schema=False)
def default_simple_project(request: Request, project: str) -> Response:
    return _project(request, context(request).default_channel, project, alias=True)


@router.api_route(
    CHANNEL + "/simple/", methods=["GET", "HEAD"], summary="PEP 503/691 list of projects"
)
def simple_root(request: Request, channel: str) -> Response:
    return _simple_page(request, context(request), channel, None)


@router.api_route(
    CHANNEL + "/simple/{project}/", methods=["GET", "HEAD"], summary="PEP 503/691 project page"
)
@router.api_route(CHANNEL + "/simple/{project}", methods=["GET", "HEAD"], include_in_schema=False)
def simple_project(request: Request, channel: str, project: str) -> Response:
    return _project(request, channel, project, alias=False)


def _file(request: Request, channel: str, filename: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    if "/" in filename or filename.startswith("."):
        raise HTTPException(404, "no such file")
    media_type = (
        "text/plain; charset=utf-8"
        if filename.endswith(".metadata")
        else "application/octet-stream"
    )
    skip = ctx.unreadable_levels(request, channel)
    for path in ctx.inherited.candidates(channel, "files", filename, skip):  # nearest first
        try:
            return file_response(request, Path(path), media_type, CACHE_IMMUTABLE)
        except FileNotFoundError:
            continue
    recorded = filename.removesuffix(".metadata")
    if not_fetched_yet(ctx.home, ctx.database, channel, f"pypi/files/{recorded}"):
        raise HTTPException(
            503, f"{filename} is being fetched from the primary; try again", FETCHING_HEADERS
        )
    raise HTTPException(404, f"no file {filename!r} in channel {channel!r}")


@router.api_route("/files/{filename}", methods=["GET", "HEAD"], include_in_schema=False)
def default_file(request: Request, filename: str) -> Response:
    return _file(request, context(request).default_channel, filename)


@router.api_route(
    CHANNEL + "/files/{filename}",
    methods=["GET", "HEAD"],
    summary="A wheel, sdist or .metadata file",
)
def channel_file(request: Request, channel: str, filename: str) -> Response:
    return _file(request, channel, filename)


@router.api_route(
    CHANNEL + "/packages/source/{letter}/{project}/{filename}",
    methods=["GET", "HEAD"],
    summary="A file under PyPI's legacy source layout (grayskull's --pypi-mirror-url)",
)
def legacy_source_file(
    request: Request, channel: str, letter: str, project: str, filename: str
) -> Response:
    return _file(request, channel, filename)


def _json_api(request: Request, channel: str, project: str, version: str | None) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    try:
        skip = ctx.unreadable_levels(request, channel)
        readable = [level.name for level in ctx.inherited.served(channel, skip)]
        files = ctx.channels.inherited_project_files(channel, canonicalize_name(project), readable)
        base_url = str(request.base_url).rstrip("/") + f"/{channel}"
        document = project_document(files, base_url, version)
    except UnknownProject as error:
        raise HTTPException(404, str(error)) from None
    body = json.dumps(document).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return bytes_response(request, body, "application/json", etag)


@router.api_route(
    CHANNEL + "/pypi/{project}/json", methods=["GET", "HEAD"], summary="PyPI JSON API: a project"
)
def json_project(request: Request, channel: str, project: str) -> Response:
    return _json_api(request, channel, project, None)


@router.api_route(
    CHANNEL + "/pypi/{project}/{version}/json",
    methods=["GET", "HEAD"],
    summary="PyPI JSON API: a release",
)
def json_release(request: Request, channel: str, project: str, version: str) -> Response:
    return _json_api(request, channel, project, version)
