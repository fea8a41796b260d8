"""The `/t/<token>/` URL prefix (conda, which sends no credentials otherwise): taken off the
path before anything routes it, and kept in the scope for authentication (`auth`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from drawbridge.server.auth import TOKEN_KEY


class TokenPrefixMiddleware:
    """Strip `/t/<token>` from the path and remember the token for authentication."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/t/"):
            _, _, rest = scope["path"].partition("/t/")
            token, slash, path = rest.partition("/")
            raw = scope.get("raw_path")
            scope = dict(scope)
            scope["path"] = slash + path
            # the rest of the path as the client sent it, %-escapes kept (the access log)
            raw_rest = raw.split(b"/", 3)[3] if raw and raw.count(b"/") >= 3 else b""
            scope["raw_path"] = slash.encode() + raw_rest if raw else (slash + path).encode()
            scope["root_path"] = scope.get("root_path", "") + f"/t/{token}"
            scope[TOKEN_KEY] = token
        await self.app(scope, receive, send)
