"""The gate between the fast path and the routes: every request the routes answer passes it.

It refuses what no route should see: a malformed URL (400/404, before anything touches the
disk or the database); a request about a channel that does not exist or that its identity
may not read (`Access.may_read`, which is False for both): one 404, the same status,
headers and body for both, decided the same way from memory, so neither the answer nor its
time tells a private channel from a missing one; and, by the server-wide read rule
(`Context.role_to_read`), a request without the token reading needs (401/403), which an
anonymous request about any channel it may not read gets too (whether the channel exists
or not). On the way out it marks every answer
`nosniff`, and an answer not everyone may read `private`, so no shared proxy keeps a
private channel's files. The fast path answers only anonymous reads of public channels; it
hands everything else, private channels included, to this gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawbridge.channel.tokens import ANONYMOUS, Identity, Role
from drawbridge.server.auth import identify, require, token_from_request
from drawbridge.server.channel_paths import channel_in_path
from drawbridge.server.context import REPLICA_FILES_PREFIX, Context
from drawbridge.server.errors import error_answer
from drawbridge.server.index_files import NOSNIFF
from drawbridge.server.pages import UI_TAG

#: no channel, project, file or recipe has a longer name (NAME_MAX)
MAX_SEGMENT_BYTES = 255


def malformed(path: str, query_string: bytes = b"") -> tuple[int, str] | None:
    """(status, reason) if a request's decoded path or query cannot name anything we
    serve, else None.

    Refused: a control character (`%00`, a newline) or any other character Python does not
    call printable (format characters such as U+202E, surrogates, unassigned code points),
    `%`-escapes that do not decode as UTF-8, and `.`/`..` segments (all 400); a segment
    longer than 255 bytes (404: no name is that long).
    """
    query = unquote(query_string.decode("latin-1"), errors="replace") if query_string else ""
    for where, text in (("path", path), ("query", query)):
        if "\ufffd" in text:
            return 400, f"the URL's {where} is not UTF-8 once its %-escapes are decoded"
        if not text.isprintable():
            odd = next(char for char in text if not char.isprintable())
            return 400, f"the URL's {where} holds U+{ord(odd):04X}, which no name here contains"
    for segment in path.split("/"):
        if segment in (".", ".."):
            return 400, f"the URL's path holds a {segment!r} segment; send the path it leads to"
        if len(segment) > MAX_SEGMENT_BYTES // 4 and len(segment.encode()) > MAX_SEGMENT_BYTES:
            return 404, (
                f"no name here is longer than {MAX_SEGMENT_BYTES} bytes; the URL has a segment "
                f"of {len(segment.encode())} bytes"
            )
    return None


def web_ui_pages(app: ASGIApp) -> tuple[re.Pattern[str], ...]:
    """The path patterns of the web UI's pages (GET routes tagged `UI_TAG`) in a FastAPI
    application (inside any plain layers between it and the gate, each holding the next as
    `app`): a refusal of such a path is answered as a page, as the route would."""
    while not hasattr(app, "routes") and hasattr(app, "app"):
        app = app.app
    routes = list(getattr(app, "routes", ()))
    try:  # FastAPI >= 0.160 keeps included routers whole; this lists what they hold
        from fastapi.routing import iter_route_contexts

        routes = list(iter_route_contexts(routes))
    except ImportError:
        pass
    return tuple(
        route.path_regex
        for route in routes
        if UI_TAG in (getattr(route, "tags", None) or ()) and "GET" in (route.methods or ())
    )


class Gate:
    """ASGI middleware around the FastAPI application: well-formed URLs, the read rule."""

    def __init__(self, app: ASGIApp, context: Context) -> None:
        self.app = app
        self.context = context
        self.pages = web_ui_pages(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # root_path holds a /t/<token> prefix (the token is checked like a segment)
        target = scope.get("root_path", "") + scope["path"]
        problem = malformed(target, scope.get("query_string", b""))
        if problem is not None:
            await self._refuse(scope, receive, send, *problem)
            return
        path = scope["path"]
        if path.startswith(REPLICA_FILES_PREFIX):  # the replica token: the route checks it
            await self.app(scope, receive, _marking(send, private=True))
            return
        role = self.context.role_to_read(path)
        channel = channel_in_path(path, self.context.default_channel)
        access = self.context.access
        if channel is not None and access.stale():
            await run_in_threadpool(access.reload)
        private = role is not None
        if channel is not None or role is not None:
            request = Request(scope)
            try:
                identity = (
                    ANONYMOUS
                    if token_from_request(request) is None
                    else await run_in_threadpool(identify, request, self.context.database)
                )
                if channel is not None:
                    if not access.may_read(identity, channel) and access.changed_since_loaded():
                        await run_in_threadpool(access.reload)  # made a moment ago, perhaps
                    private = self._check_channel(identity, channel, role)
                elif role is not None:
                    require(identity, role, "reading from this server")
            except HTTPException as refusal:
                # a page of the web UI is refused as a page, like the route's own errors
                page = scope["method"] in ("GET", "HEAD") and any(
                    pattern.match(path) for pattern in self.pages
                )
                await self._refuse(
                    scope, receive, send, refusal.status_code, refusal.detail, refusal.headers, page
                )
                return
        await self.app(scope, receive, _marking(send, private=private))

    def _check_channel(self, identity: Identity, channel: str, role: Role | None) -> bool:
        """Refuse a request about `channel` if its identity may not read it or there is no
        such channel, alike: 404, except that an anonymous request on a server where reading
        needs a token gets that rule's 401 (for every channel it may not read, there or
        not). Returns whether the answer is private (not everyone may read the channel)."""
        access = self.context.access
        if access.may_read(identity, channel):
            return not access.public(channel)
        if identity.anonymous and role is not None:
            require(identity, role, "reading from this server")
        raise HTTPException(404, str(access.hidden(channel)))

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        headers: Mapping[str, str] | None = None,
        page: bool = False,
    ) -> None:
        answer = error_answer(Request(scope), status, detail, headers, page)
        await answer(scope, receive, _marking(send, private=False))


def _marking(send: Send, private: bool) -> Send:
    """`send`, with nosniff added to the answer's headers (and `private` to its caching)."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            names = {name.lower() for name, _ in headers}
            if b"x-content-type-options" not in names:
                headers.append(NOSNIFF)
            if private:
                headers = _private(headers, b"cache-control" in names)
            message = {**message, "headers": headers}
        await send(message)

    return marked


def _private(
    headers: list[tuple[bytes, bytes]], has_cache_control: bool
) -> list[tuple[bytes, bytes]]:
    """The headers with `Cache-Control` made `private` (`public` replaced, or prepended)."""
    if not has_cache_control:
        return [*headers, (b"cache-control", b"private")]
    marked = []
    for name, value in headers:
        if name.lower() == b"cache-control" and b"private" not in value:
            value = (
                b"private" + value[len(b"public") :]
                if value.startswith(b"public")
                else b"private, " + value
            )
        marked.append((name, value))
    return marked
