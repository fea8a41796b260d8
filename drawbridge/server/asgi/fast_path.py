"""An ASGI fast path for the hottest anonymous reads: pages, repodata and package files.

It answers only what it can answer completely (a known channel, plain or `owner/name` as
`channel_paths.split_channel` reads it, a normalised name, a file that exists, anonymous
reads of that channel allowed (`Access.public`: one `stat` of the permissions stamp), at
most one satisfiable byte range); everything else, including every error and every
private channel, goes on to the FastAPI application behind the read gate, which answers
the same requests the same way, only slower.

Package files (.conda, .tar.bz2, wheels, sdists, .metadata, shards) cost one `stat` and a
cached header list. A small file is read in one go; a larger one leaves through the
server's `http.response.pathsend` (granian streams it from Rust, no Python per chunk), or
in 1 MiB chunked reads where the server has no pathsend. Behind nginx with
`[server] accel_redirect_prefix` set, a GET of a file is answered with `X-Accel-Redirect`
instead and nginx sends the file (`server.accel`). With `[server] proxy_cache_seconds`
set, every answer here may be kept that long by nginx's cache (`server.asgi.proxy_cache`):
they are all anonymous reads of public channels; files are then sent, not redirected, so
that nginx can keep them, but for those larger than `proxy_cache_max_file_mb`, which are
marked never to be kept and, with `accel_redirect_prefix`, redirected.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache

from packaging.utils import canonicalize_name
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from drawbridge.channel import repodata_files
from drawbridge.channel.conda_index import INDEX_FILES
from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.channel.simple_pages import JSON_TYPE
from drawbridge.server.accel import HEADER as ACCEL_HEADER
from drawbridge.server.accel import AccelRedirect
from drawbridge.server.asgi.access_log import AccessLog
from drawbridge.server.asgi.proxy_cache import NEVER, keep_for
from drawbridge.server.auth import TOKEN_KEY
from drawbridge.server.channel_paths import split_channel
from drawbridge.server.context import Context
from drawbridge.server.index_files import NOSNIFF, Answer, answer_index_file
from drawbridge.server.inherited import answer_merged
from drawbridge.server.negotiation import choose_simple_format
from drawbridge.server.responses import (
    CACHE_IMMUTABLE,
    CACHE_INDEX,
    is_not_modified_headers,
    stat_etag,
)

#: the only request headers an answer depends on (a request with a token goes to the gate)
CONSULTED_HEADERS = frozenset(
    {
        b"authorization",
        b"accept",
        b"accept-encoding",
        b"if-none-match",
        b"if-modified-since",
        b"range",
        b"if-range",
    }
)
#: what a read of a file sends at once when the server cannot send the file itself
CHUNK = 1 << 20
#: files up to this size are read here and sent in one message: granian's pathsend opens
#: and reads through tokio's blocking pool (three thread hand-offs for a small file), which
#: bench/serve measured about 15% slower for a 100 KB package than one read from Python
SMALL_FILE = 256 * 1024
MAX_FILE_ENTRIES = 65536
PACKAGE_SUFFIXES = (".conda", ".tar.bz2")
OCTET_STREAM = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"


@lru_cache(maxsize=65536)
def _is_normalised(project: str) -> bool:
    return project == canonicalize_name(project) and not project.startswith(".")


@dataclass(frozen=True)
class StoredFile:
    """An immutable file's validators and finished header lists, as of one `stat`."""

    signature: tuple[int, int, int]  # (inode, size, mtime_ns)
    size: int
    etag: str
    mtime: float
    headers: list[tuple[bytes, bytes]]  # a full 200
    validators: list[tuple[bytes, bytes]]  # what a 304 or a 206 repeats


class StoredFiles:
    """A bounded LRU of StoredFiles, each checked against `os.stat` on every get."""

    def __init__(self, max_entries: int = MAX_FILE_ENTRIES) -> None:
        self._entries: OrderedDict[str, StoredFile] = OrderedDict()
        self._max = max_entries

    def get(self, path: str, media_type: str) -> StoredFile | None:
        """The file at `path` if it is a regular file; None for anything else (or a bad path)."""
        try:
            stat = os.stat(path)
        except (OSError, ValueError):  # absent, a NUL byte, a name too long: the route says why
            self._entries.pop(path, None)
            return None
        if not stat_module.S_ISREG(stat.st_mode):
            return None
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = self._entries.get(path)
        if cached is not None and cached.signature == signature:
            self._entries.move_to_end(path)
            return cached
        etag = stat_etag(stat)
        validators = [
            (b"cache-control", CACHE_IMMUTABLE.encode()),
            (b"etag", etag.encode()),
            (b"last-modified", formatdate(stat.st_mtime, usegmt=True).encode()),
        ]
        headers = [
            *validators,
            (b"accept-ranges", b"bytes"),
            (b"content-type", media_type.encode()),
            NOSNIFF,
            (b"content-length", str(stat.st_size).encode()),
        ]
        fresh = StoredFile(signature, stat.st_size, etag, stat.st_mtime, headers, validators)
        self._entries[path] = fresh
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return fresh


def single_range(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a `Range` naming one satisfiable range of `size` bytes, else None.

    None sends the request on to the route, which answers several ranges, an unsatisfiable
    one (416) and malformed ones as Starlette does.
    """
    unit, _, spec = value.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    if not all(part == "" or (part.isascii() and part.isdigit()) for part in (first, last)):
        return None
    if first == "":
        if last == "" or int(last) == 0 or size == 0:
            return None
        return max(size - int(last), 0), size - 1
    start, end = int(first), (int(last) if last else size - 1)
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


async def _send_chunks(send: Send, path: str, start: int, length: int) -> None:
    with open(path, "rb") as handle:
        handle.seek(start)
        while True:
            chunk = handle.read(min(CHUNK, length))
            length -= len(chunk)
            more = length > 0 and bool(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return


class IndexFastPath:
    """Serve pages, repodata and package files without entering the router."""

    def __init__(self, app: ASGIApp, context: Context, log: AccessLog | None = None) -> None:
        self.app = app
        self.context = context
        self.log = log
        self.files = StoredFiles()
        self._roots: dict[tuple[str, str], str] = {}
        server = context.home.server
        seconds = server.proxy_cache_seconds
        #: what lets nginx's cache keep an answer; none when no cache is configured
        self.keep = [keep_for(seconds)] if seconds else []
        self.never = [NEVER] if seconds else []
        #: a proxy cache keeps what it is sent, not what it is redirected to: files up to
        #: this size are sent for it to keep, larger ones redirected (or sent marked never)
        self.cache_file_limit = server.proxy_cache_max_file_bytes
        self.accel = AccelRedirect.for_home(server.accel_redirect_prefix, context.home.root)
        #: repodata made from the shards lazily: stale ones go to the routes (a thread)
        self.repodata = repodata_files.Watch()

    def _root(self, channel: str, view: str) -> str:
        """The folder of a channel's simple pages, files or conda view, as a string (no pathlib)."""
        key = (channel, view)
        if key not in self._roots:
            channels = self.context.channels
            if view == "simple":
                folder = channels.simple_dir(channel)
            elif view == "files":
                folder = channels.files_dir(channel)
            else:
                folder = channels.conda_dir(channel)
            self._roots[key] = str(folder)
        return self._roots[key]

    def _public(self, channel: str) -> bool:
        """Whether the fast path may serve `channel`: it exists, and anyone may read it and
        every base it inherits from (else the routes answer, leaving out hidden bases)."""
        access = self.context.access
        if not access.public(channel, checked=True):
            return False
        levels = self.context.inherited.levels(channel)
        return len(levels) == 1 or all(
            level.upstream or access.public(level.name, checked=True) for level in levels[1:]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope.get("query_string")
            or TOKEN_KEY in scope
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in CONSULTED_HEADERS
        }
        if "authorization" in headers:  # a token is the gate's to check (its channel limit)
            await self.app(scope, receive, send)
            return
        if self.context.access.stale():  # read the permissions again, off the event loop
            await run_in_threadpool(self.context.access.reload)
        parts = scope["path"].split("/")
        answer = self._answer(parts, headers)
        if answer is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [*self.keep, *answer.headers] if self.keep else answer.headers,
                }
            )
            body = b"" if scope["method"] == "HEAD" else answer.body
            await send({"type": "http.response.body", "body": body})
            if self.log:
                self.log.record(scope, answer.status, len(body), started)
            return
        file = self._package_file(parts)
        sent = None if file is None else await self._send_file(scope, send, headers, *file)

        if sent is None:
            await self.app(scope, receive, send)
        elif self.log:
            self.log.record(scope, *sent, started)

    # -- pages and indexes, from memory ------------------------------------------------------

    def _answer(self, parts: list[str], headers: dict[str, str]) -> Answer | None:
        if len(parts) > 2 and parts[1] == "simple":
            return self._simple(self.context.default_channel, parts[2:], headers)
        named = split_channel(parts)
        if named is None:
            return None
        channel, view = named  # view: ["simple", ...] or ["conda", ...]
        if view[0] == "simple":
            return self._simple(channel, view[1:], headers) if len(view) > 1 else None
        if len(view) < 2 or view[0] != "conda" or not self._public(channel):
            return None
        inherited = self.context.inherited
        if inherited.inherits(channel):
            # a mirror level may need asking: the route answers (in a thread)
            return (
                self._merged_conda(channel, view, headers)
                if inherited.local_only(channel)
                else None
            )
        if len(view) == 3 and view[1] in KNOWN_SUBDIRS and view[2] in INDEX_FILES:
            media_type, gzip_twin = INDEX_FILES[view[2]]
            folder = f"{self._root(channel, 'conda')}/{view[1]}"
            if view[2] in repodata_files.MADE_FILES and not self.repodata.current(folder):
                return None
            return answer_index_file(
                self.context.index_cache,
                f"{folder}/{view[2]}",
                media_type,
                CACHE_INDEX,
                headers,
                gzip_twin=gzip_twin,
            )
        if len(view) == 2 and view[1] == "channeldata.json":
            if not self.repodata.channel_current(self._root(channel, "conda")):
                return None
            path = f"{self._root(channel, 'conda')}/channeldata.json"
            return answer_index_file(
                self.context.index_cache, path, "application/json", CACHE_INDEX, headers
            )
        return None

    def _merged_conda(
        self, channel: str, view: list[str], headers: dict[str, str]
    ) -> Answer | None:
        inherited = self.context.inherited
        if len(view) == 3 and view[1] in KNOWN_SUBDIRS and view[2] in INDEX_FILES:
            media_type, gzip_twin = INDEX_FILES[view[2]]
            if view[2] == "repodata_shards.msgpack.zst":
                merged = inherited.shard_index(channel, view[1])
            else:
                merged = inherited.repodata(channel, view[1])
            return answer_merged(merged, view[2], media_type, headers, gzip_twin=gzip_twin)
        if len(view) == 2 and view[1] == "channeldata.json":
            merged = inherited.channeldata(channel)
            return answer_merged(merged, view[1], "application/json", headers)
        return None

    def _simple(self, channel: str, rest: list[str], headers: dict[str, str]) -> Answer | None:
        if rest[-1] != "" or len(rest) > 2 or not self._public(channel):
            return None
        if len(rest) == 2 and not _is_normalised(rest[0]):
            return None
        media_type = choose_simple_format(headers.get("accept"))
        if media_type is None:
            return None
        inherited = self.context.inherited
        if inherited.inherits(channel):
            merged = inherited.simple_page(channel, rest[0] if len(rest) == 2 else None)
            name = "json" if media_type == JSON_TYPE else "html"
            return answer_merged(merged, name, media_type, headers, vary="Accept", gzip_twin=True)
        folder = self._root(channel, "simple")
        if len(rest) == 2:
            folder = f"{folder}/{rest[0]}"
        page = f"{folder}/index.json" if media_type == JSON_TYPE else f"{folder}/index.html"
        return answer_index_file(
            self.context.index_cache,
            page,
            media_type,
            CACHE_INDEX,
            headers,
            vary="Accept",
            gzip_twin=True,
        )

    # -- package files, from disk ------------------------------------------------------------

    def _package_file(self, parts: list[str]) -> tuple[str, str] | None:
        """(path, media type) of the immutable file a URL names, or None for any other URL."""
        name = parts[-1]
        if not name or name[0] == "." or len(parts) < 3:
            return None
        if len(parts) == 3 and parts[1] == "files":
            channel, view, folder = self.context.default_channel, "files", ""
        elif (named := split_channel(parts)) is None:
            return None
        else:
            channel, rest = named  # rest: ["files", name] or ["conda", subdir, ...]
            if len(rest) == 2 and rest[0] == "files":
                view, folder = "files", ""
            elif rest[0] == "conda" and len(rest) in (3, 4) and rest[1] in KNOWN_SUBDIRS:
                view = "conda"
                if len(rest) == 3 and name.endswith(PACKAGE_SUFFIXES):
                    folder = f"/{rest[1]}"
                elif len(rest) == 4 and rest[2] == "shards":
                    folder = f"/{rest[1]}/shards"
                else:
                    return None
            else:
                return None
        if not self._public(channel):
            return None
        media_type = METADATA_TYPE if name.endswith(".metadata") else OCTET_STREAM
        inherited = self.context.inherited
        if inherited.inherits(channel):  # the nearest level that has it
            relative = f"{folder[1:]}/{name}" if folder else name
            for path in inherited.candidates(channel, view, relative):
                if self.files.get(path, media_type) is not None:
                    return path, media_type
            return None
        return f"{self._root(channel, view)}{folder}/{name}", media_type

    async def _send_file(
        self, scope: Scope, send: Send, headers: dict[str, str], path: str, media_type: str
    ) -> tuple[int, int] | None:
        """Answer with the file at `path`: (status, body bytes), or None (nothing sent) if the
        route must answer."""
        stored = self.files.get(path, media_type)
        if stored is None:
            return None
        kept = stored.size <= self.cache_file_limit  # by nginx's cache
        keep = self.keep if kept else self.never
        if (
            "if-none-match" in headers or "if-modified-since" in headers
        ) and is_not_modified_headers(headers, stored.etag, stored.mtime):
            validators = [*keep, *stored.validators]
            await send({"type": "http.response.start", "status": 304, "headers": validators})
            await send({"type": "http.response.body", "body": b""})
            return 304, 0
        head = scope["method"] == "HEAD"
        location = None if head or kept or self.accel is None else self.accel.location(path)
        if location is not None:  # nginx sends it, and answers Range and If-Range itself
            accel = [
                *self.never,
                *stored.validators,
                (b"content-type", media_type.encode()),
                NOSNIFF,
                (ACCEL_HEADER, location),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": accel})
            await send({"type": "http.response.body", "body": b""})
            return 200, stored.size
        if "range" in headers:
            chosen = None if "if-range" in headers else single_range(headers["range"], stored.size)
            if chosen is None:
                return None
            start, end = chosen
            partial = [
                *self.never,  # a proxy cache keeps a whole file or nothing
                *stored.validators,
                (b"content-type", media_type.encode()),
                NOSNIFF,
                (b"content-range", f"bytes {start}-{end}/{stored.size}".encode()),
                (b"content-length", str(end - start + 1).encode()),
            ]
            await send({"type": "http.response.start", "status": 206, "headers": partial})
            if head:
                await send({"type": "http.response.body", "body": b""})
                return 206, 0
            await _send_chunks(send, path, start, end - start + 1)
            return 206, end - start + 1
        whole = [*keep, *stored.headers] if keep else stored.headers
        await send({"type": "http.response.start", "status": 200, "headers": whole})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return 200, 0
        if stored.size > SMALL_FILE and "http.response.pathsend" in (scope.get("extensions") or ()):
            await send({"type": "http.response.pathsend", "path": path})
        else:
            await _send_chunks(send, path, 0, stored.size)
        return 200, stored.size
