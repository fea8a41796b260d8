"""A replica refuses every change: a request of an unsafe method gets a 403 naming the
primary's URL (and the same path there), before anything reads its body or its token.

One check for every route, routes added later included: a replica's database is a hot
standby that would refuse the write anyway, but later and less clearly, after the
upload was read. Safe methods pass; nothing a safe method does writes to the database
on a replica (the channel layer's `Database` refuses it if anything tried). So do the
few POSTs that only read (`CHANGES_NOTHING`): a lock (`POST /api/lock`) reads the
replica's channels as any client would, so a site's clients lock there too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from drawbridge.server.asgi.csrf import SAFE_METHODS
from drawbridge.server.errors import error_answer

#: the header naming the primary on a refusal (for tools that show no body)
PRIMARY_HEADER = "X-Drawbridge-Primary"
#: (method, path) of the requests of an unsafe method that change nothing
CHANGES_NOTHING = frozenset({("POST", "/api/lock")})


class ReadOnlyReplica:
    """ASGI middleware of a replica of the primary at `primary`: changes refused."""

    def __init__(self, app: ASGIApp, primary: str) -> None:
        self.app = app
        self.primary = primary.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and (scope["method"], scope["path"]) not in CHANGES_NOTHING
        ):
            there = self.primary + scope.get("root_path", "") + scope["path"]
            detail = (
                f"{scope['method']} refused: this server is a read-only replica of "
                f"{self.primary}; uploads, reviews, promotions and every other change are "
                f"made on the primary: {there}"
            )
            answer = error_answer(Request(scope), 403, detail, {PRIMARY_HEADER: self.primary})
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
