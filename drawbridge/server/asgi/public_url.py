"""The server's own origin: `[server] public_url` when it is set, else each request's scheme
and Host header; with public_url set, every request reaches the routes carrying it.

Every absolute URL the server writes (the install snippets, `/api/channels`, the JSON
API's file URLs, Starlette's trailing-slash redirects) is built from the request's scheme
and Host (`request.url`, `request.base_url`). A shared cache that does not key on Host
would hand one client's forged Host to everyone else; with public_url set, `PublicUrl`
replaces the scheme, the Host header and `server` of every request's scope with
public_url's, so no route, nor one added later, can build a URL from what a client sent.
Without it the Host header is used as sent (granian reads no `X-Forwarded-*` header and
neither does Drawbridge): a reverse proxy must pass the Host clients used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, netloc: str) -> str:
    """`scheme://netloc` as browsers write an `Origin` header: lower case, without the
    scheme's default port."""
    scheme, netloc = scheme.lower(), netloc.lower()
    default = DEFAULT_PORTS.get(scheme)
    if default is not None and netloc.endswith(f":{default}"):
        netloc = netloc[: -len(f":{default}")]
    return f"{scheme}://{netloc}"


def public_origin(public_url: str) -> str | None:
    """The origin of a `[server] public_url` (`load_home` checked it), None if it is empty."""
    if not public_url:
        return None
    parts = urlsplit(public_url)
    return origin(parts.scheme, parts.netloc)


def request_origin(scope: Scope) -> str:
    """The origin a request was sent to: its scheme and Host header (else the address it
    arrived at)."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return origin(scope.get("scheme", "http"), value.decode("latin-1"))
    host, port = scope.get("server") or ("localhost", None)
    netloc = f"[{host}]" if ":" in host else host
    return origin(scope.get("scheme", "http"), f"{netloc}:{port}" if port else netloc)


class PublicUrl:
    """ASGI middleware: every HTTP request's scheme, Host header and `server` become those
    of `public_url` (an origin alone, as `load_home` checked)."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        parts = urlsplit(public_url)
        self.scheme = parts.scheme.lower()
        self.host = origin(self.scheme, parts.netloc).partition("://")[2].encode("latin-1")
        self.server = (parts.hostname, parts.port or DEFAULT_PORTS[self.scheme])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            scope = {
                **scope,
                "scheme": self.scheme,
                "server": self.server,
                "headers": [(b"host", self.host), *headers],
            }
        await self.app(scope, receive, send)
