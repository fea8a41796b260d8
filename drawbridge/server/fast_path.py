"""An ASGI fast path for the hottest anonymous reads: simple-index pages and repodata.

It answers only what it can answer completely (a known channel, a normalised name, a file
that exists, anonymous reads allowed); everything else, including every error, goes on to
the FastAPI application, which answers the same requests the same way, only slower.
"""

from __future__ import annotations

from functools import lru_cache

from packaging.utils import canonicalize_name

from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.server.context import Context
from drawbridge.server.conda_routes import INDEX_FILES
from drawbridge.server.index_files import answer_index_file
from drawbridge.server.negotiation import choose_simple_format
from drawbridge.channel.simple_pages import JSON_TYPE
from drawbridge.server.responses import CACHE_INDEX


#: the only request headers an index-file answer depends on
CONSULTED_HEADERS = frozenset({b"accept", b"accept-encoding", b"if-none-match", b"if-modified-since"})


@lru_cache(maxsize=65536)
def _is_normalised(project: str) -> bool:
    return project == canonicalize_name(project) and not project.startswith(".")


class IndexFastPath:
    """Serve pages and repodata from the index-file cache without entering the router."""

    def __init__(self, app, context: Context) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.context = context
        self._roots: dict[tuple[str, str], str] = {}

    def _root(self, channel: str, view: str) -> str:
        """The folder of a channel's simple pages or conda view, as a string (no pathlib)."""
        key = (channel, view)
        if key not in self._roots:
            channels = self.context.channels
            folder = channels.simple_dir(channel) if view == "simple" else channels.conda_dir(channel)
            self._roots[key] = str(folder)
        return self._roots[key]

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope.get("query_string")
            or "drawbridge.token" in scope
            or not self.context.home.server.anonymous_read
        ):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in CONSULTED_HEADERS
        }
        answer = self._answer(scope["path"], headers)
        if answer is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        body = b"" if scope["method"] == "HEAD" else answer.body
        await send({"type": "http.response.body", "body": body})

    def _answer(self, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "simple":
            return self._simple(self.context.default_channel, parts[2:], headers)
        if len(parts) > 3 and parts[2] == "simple":
            return self._simple(parts[1], parts[3:], headers)
        if len(parts) == 5 and parts[2] == "conda" and parts[3] in KNOWN_SUBDIRS and parts[4] in INDEX_FILES:
            if parts[1] not in self.context.known_channels:
                return None
            media_type, gzip_twin = INDEX_FILES[parts[4]]
            return answer_index_file(
                self.context.index_cache,
                f"{self._root(parts[1], 'conda')}/{parts[3]}/{parts[4]}",
                media_type,
                CACHE_INDEX,
                headers,
                gzip_twin=gzip_twin,
            )
        return None

    def _simple(self, channel: str, rest: list[str], headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if channel not in self.context.known_channels or rest[-1] != "" or len(rest) > 2:
            return None
        folder = self._root(channel, "simple")
        if len(rest) == 2:
            if not _is_normalised(rest[0]):
                return None
            folder = f"{folder}/{rest[0]}"
        media_type = choose_simple_format(headers.get("accept"))
        if media_type is None:
            return None
        page = f"{folder}/index.json" if media_type == JSON_TYPE else f"{folder}/index.html"
        return answer_index_file(
            self.context.index_cache, page, media_type, CACHE_INDEX, headers, vary="Accept", gzip_twin=True
        )
