"""What nginx's proxy_cache may keep: anonymous reads of public channels, for a few seconds.

With `[server] proxy_cache_seconds` N > 0, every answer carries `X-Accel-Expires`, the
header nginx's cache obeys before `Cache-Control` and never passes on to clients: N on
what the fast path answers (reads anyone may make of a public channel, so the same bytes
for every client), 0 on everything else (tokens, private channels, the web UI, errors,
uploads), which nginx then never stores. Package files keep their own `Cache-Control:
immutable` for clients; nginx keeps them N seconds and then asks again (a 304 when
nothing changed). A publish or a permission change reaches anonymous readers through the
cache within N seconds (docs/operating.md, "Anonymous reads from nginx's cache").

The header goes first: nginx reads `Cache-Control` (which says `no-cache` on pages) as
it comes, and lets `X-Accel-Expires` override it only when that came before.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the header nginx's proxy_cache reads for how long to keep an answer (0: not at all)
HEADER = b"x-accel-expires"
#: what every answer but the fast path's carries when a proxy cache is configured
NEVER = (HEADER, b"0")


def keep_for(seconds: int) -> tuple[bytes, bytes]:
    """The header that lets nginx keep an answer `seconds` seconds."""
    return HEADER, str(seconds).encode()


class NotForProxyCache:
    """ASGI middleware: mark every HTTP answer of `app` `X-Accel-Expires: 0` (unless it
    says otherwise itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == HEADER for name, _ in headers):
                    headers.insert(0, NEVER)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked_send)
