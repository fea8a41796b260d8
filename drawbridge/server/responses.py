"""HTTP done properly: validators, 304s, gzip, Range and Cache-Control for files and documents."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from fastapi import Request, Response
from fastapi.responses import FileResponse

from drawbridge.server.accel import HEADER, AccelRedirect

#: immutable: a published file or a content-addressed shard never changes under its name.
#: An answer that needed a token goes out `private` instead of `public` (server/asgi/gate.py).
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
#: indexes and pages change when something is published, so a client may keep them but must
#: ask again every time (a conditional request, answered 304 while nothing changed): a
#: publish is visible at once. conda and pip (CacheControl) read no max-age as 0, rattler
#: and uv treat no-cache as stale; all revalidate with the ETag.
CACHE_INDEX = "no-cache"


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def stat_etag(stat: os.stat_result, variant: str = "") -> str:
    """The ETag of a file on disk: its mtime and size, which every atomic replace changes.

    The one formula for files served from disk, by the routes and by the fast path alike;
    `variant` tells apart two representations of one document (its gzip twin).
    """
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{variant}"'


def is_not_modified(request: Request, etag: str, mtime: float) -> bool:
    """Evaluate If-None-Match (which wins) or If-Modified-Since against a representation."""
    return is_not_modified_headers(request.headers, etag, mtime)


def is_not_modified_headers(headers: Mapping[str, str], etag: str, mtime: float) -> bool:
    """`is_not_modified` on a mapping of lower-case request header names to values."""
    if if_none_match := headers.get("if-none-match"):
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since := headers.get("if-modified-since"):
        try:
            return int(mtime) <= parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def file_response(request: Request, path: Path, media_type: str, cache_control: str) -> Response:
    """Serve a file from disk with validators, 304s and Range (Starlette's FileResponse), or
    name it to the proxy in front (`server.accel`) when the app has `state.accel` set and
    the file lies in the home: the caller has checked the read already.

    Raises FileNotFoundError if the file is absent.
    """
    stat = path.stat()
    etag = stat_etag(stat)
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
    }
    if is_not_modified(request, etag, stat.st_mtime):
        return Response(status_code=304, headers=headers)
    accel: AccelRedirect | None = getattr(request.app.state, "accel", None)
    location = accel.location(path) if accel and request.method == "GET" else None
    if location is not None:
        headers[HEADER.decode()] = location.decode("latin-1")
        return Response(media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


def bytes_response(
    request: Request,
    body: bytes,
    media_type: str,
    etag: str,
    cache_control: str = CACHE_INDEX,
    vary: str | None = None,
) -> Response:
    """Serve a document built on the fly: conditional on `etag`, gzipped when accepted."""
    headers = {"Cache-Control": cache_control, "ETag": etag}
    headers["Vary"] = ", ".join(v for v in (vary, "Accept-Encoding") if v)
    if is_not_modified(request, etag, 0) and request.headers.get("if-none-match"):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request) and len(body) > 512:
        body = gzip.compress(body, 6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)
