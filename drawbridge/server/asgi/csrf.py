"""Cross-site request forgery refused: a browser may change something only from a page of
the server's own origin.

A browser signed in with basic auth sends its cached credentials with every request to the
server, including a form that a page of another site submits (and sends them again after a
401), so without this any site an admin visits could disable users or publish packages as
them. Every request of an unsafe method (anything but GET, HEAD, OPTIONS and TRACE) on any
path, the `/t/<token>/` prefix and routes added later included, is refused with a 403 here,
before the gate authenticates it, when the browser says it comes from elsewhere:
`Sec-Fetch-Site` is present and neither `same-origin` nor `none`, or, from a browser too old
to send that, `Origin` is present and is not the server's own (`Origin: null`, a sandboxed
or privacy-sensitive context, never is). Browsers set both headers themselves; no page can
forge or drop them. twine, pip, conda, the `drawbridge` CLI and other HTTP clients send
neither and pass. Safe methods never change anything, and the fast path answers only those.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from drawbridge.server.asgi import public_url
from drawbridge.server.errors import error_answer

#: the methods that change nothing (RFC 9110 9.2.1): never refused here
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: `Sec-Fetch-Site` values of a request made by the server's own pages, or by the user
#: (typed, a bookmark)
OWN_SITES = frozenset({"same-origin", "none"})


def foreign_origin(scope: Scope, own_origin: str) -> str | None:
    """Why a request of an unsafe method comes from a page of another origin than
    `own_origin` (the headers that say so), or None if it does not."""
    site = origin = None
    for name, value in scope.get("headers", ()):
        if name == b"sec-fetch-site":
            site = value.decode("latin-1").strip().lower()
        elif name == b"origin":
            origin = value.decode("latin-1").strip()
    if site is not None:
        return None if site in OWN_SITES else _said(origin, f"Sec-Fetch-Site: {site}")
    if origin is not None and _normalised(origin) != own_origin:
        return _said(origin)
    return None


def _normalised(header: str) -> str:
    """An `Origin` header's value as `public_url.origin` writes origins (`null` stays)."""
    scheme, separator, netloc = header.partition("://")
    return public_url.origin(scheme, netloc.rstrip("/")) if separator else header


def _said(origin: str | None, *more: str) -> str:
    return ", ".join([f"Origin: {origin}" if origin is not None else "no Origin", *more])


class CrossOriginGuard:
    """ASGI middleware: a browser's request of an unsafe method from another origin gets a
    403, before anything else sees it."""

    def __init__(self, app: ASGIApp, own_origin: str | None = None) -> None:
        """`own_origin`: the origin of `[server] public_url`; None for each request's own
        scheme and Host."""
        self.app = app
        self.own_origin = own_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            own = self.own_origin or public_url.request_origin(scope)
            reason = foreign_origin(scope, own)
            if reason is not None:
                detail = (
                    f"{scope['method']} refused: it comes from a page of another origin "
                    f"({reason}), and a browser may change things on Drawbridge only from "
                    f"Drawbridge's own pages at {own}. Do it from those pages, or with a "
                    "token from twine, the drawbridge CLI or an HTTP client (they send no "
                    "Origin). If this was Drawbridge's own page behind a reverse proxy, the "
                    "proxy must pass the Host clients use, or set [server] public_url to the "
                    "URL browsers open (docs/operating.md, 'Reverse proxies')"
                )
                answer = error_answer(Request(scope), 403, detail)
                answer.headers["X-Content-Type-Options"] = "nosniff"
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
