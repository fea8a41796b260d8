"""Index files (pages, repodata) served from memory, revalidated against the disk each request.

Index files are small, hot and replaced atomically by publishing, so a cache keyed by path
and checked with one `stat` per request is always current and costs no file read. Both the
ASGI fast path and the FastAPI routes answer through `answer_index_file`.
"""

from __future__ import annotations

import errno
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from fastapi import Request, Response

from drawbridge.server.responses import is_not_modified_headers, stat_etag

MAX_ENTRIES = 8192
#: sent with every 200 and 206: a browser takes the content type as given (it costs one
#: entry in a cached header list; see docs/performance.md)
NOSNIFF = (b"x-content-type-options", b"nosniff")
#: what `stat` says of a name that cannot be there
ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})


@dataclass(frozen=True)
class Representation:
    """One file's bytes with the validators that describe them."""

    body: bytes
    etag: str
    last_modified: str
    mtime: float
    signature: tuple[int, int, int]  # (inode, size, mtime_ns): changes on every atomic replace
    #: finished (200, 304) header lists, one pair per way of serving the file
    #: (type, caching, encoding)
    headers_by_use: dict[
        tuple[object, ...], tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]
    ] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Answer:
    """What to send: a status, headers and a body (empty for 304)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class IndexFileCache:
    """A bounded LRU of Representations, each checked against `os.stat` on every get."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, Representation] = OrderedDict()
        self._max = max_entries

    def get(self, path: str, variant: str = "") -> Representation | None:
        """The file's current representation, or None if it does not exist (or no file can
        have its name: a NUL byte, a name too long), for the route to say why."""
        try:
            stat = os.stat(path)
        except (OSError, ValueError) as error:  # ValueError: a NUL byte
            if isinstance(error, OSError) and error.errno not in ABSENT:
                raise  # a permission or I/O error is the operator's: a 500 that names it
            self._entries.pop(path, None)
            return None
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = self._entries.get(path)
        if cached is not None and cached.signature == signature:
            self._entries.move_to_end(path)
            return cached
        with open(path, "rb") as handle:
            body = handle.read()
        fresh = Representation(
            body=body,
            etag=stat_etag(stat, variant),
            last_modified=formatdate(stat.st_mtime, usegmt=True),
            mtime=stat.st_mtime,
            signature=signature,
        )
        self._entries[path] = fresh
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return fresh


def choose_representation(
    find: Callable[[bool], Representation | None],
    request_headers: dict[str, str],
    gzip_twin: bool,
) -> tuple[Representation | None, bytes | None]:
    """The representation to send and its Content-Encoding: the document's gzip twin
    (`find(True)`) where the client takes gzip and `gzip_twin` and there is one, else the
    document itself (`find(False)`; None if there is none)."""
    if gzip_twin and "gzip" in request_headers.get("accept-encoding", ""):
        twin = find(True)
        if twin is not None:
            return twin, b"gzip"
    return find(False), None


def answer_index_file(
    cache: IndexFileCache,
    path: str,
    media_type: str,
    cache_control: str,
    request_headers: dict[str, str],
    vary: str | None = None,
    gzip_twin: bool = False,
) -> Answer | None:
    """The answer for GET `path` given the request's headers; None if the file is absent."""
    representation, encoding = choose_representation(
        lambda twin: cache.get(path + ".gz", "-gz") if twin else cache.get(path),
        request_headers,
        gzip_twin,
    )
    if representation is None:
        return None
    return answer_representation(
        representation, encoding, media_type, cache_control, request_headers, vary, gzip_twin
    )


def answer_representation(
    representation: Representation,
    encoding: bytes | None,
    media_type: str,
    cache_control: str,
    request_headers: dict[str, str],
    vary: str | None = None,
    gzip_twin: bool = False,
) -> Answer:
    """The answer (200 or 304) sending `representation` (bytes in `encoding`, if any)."""
    use = (media_type, cache_control, vary, gzip_twin, encoding)
    headers = representation.headers_by_use.get(use)
    if headers is None:
        not_modified = _validator_headers(representation, cache_control, vary, gzip_twin)
        full = [*not_modified, (b"content-type", media_type.encode()), NOSNIFF]
        if encoding:
            full.append((b"content-encoding", encoding))
        full.append((b"content-length", str(len(representation.body)).encode()))
        headers = representation.headers_by_use[use] = (full, not_modified)
    if ("if-none-match" in request_headers or "if-modified-since" in request_headers) and (
        is_not_modified_headers(request_headers, representation.etag, representation.mtime)
    ):
        return Answer(304, headers[1], b"")
    return Answer(200, headers[0], representation.body)


def _validator_headers(
    representation: Representation, cache_control: str, vary: str | None, gzip_twin: bool
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"cache-control", cache_control.encode()),
        (b"etag", representation.etag.encode()),
        (b"last-modified", representation.last_modified.encode()),
    ]
    vary_on = ", ".join(v for v in (vary, "Accept-Encoding" if gzip_twin else None) if v)
    if vary_on:
        headers.append((b"vary", vary_on.encode()))
    return headers


def index_file_response(
    cache: IndexFileCache,
    request: Request,
    path: Path,
    media_type: str,
    cache_control: str,
    vary: str | None = None,
    gzip_twin: bool = False,
) -> Response:
    """`answer_index_file` as a FastAPI response; FileNotFoundError if the file is absent."""
    answer = answer_index_file(
        cache, str(path), media_type, cache_control, dict(request.headers), vary, gzip_twin
    )
    if answer is None:
        raise FileNotFoundError(path)
    return answer_response(answer)


def answer_response(answer: Answer) -> Response:
    """An Answer as a FastAPI response."""
    headers = {k.decode(): v.decode() for k, v in answer.headers if k != b"content-length"}
    return Response(answer.body, status_code=answer.status, headers=headers)
