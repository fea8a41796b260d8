"""`/api/admin/channels/<channel>/bases`: a channel's bases over HTTP; changed by admins.

The same library call as `drawbridge channel bases`; the refusals are the channel layer's
errors, answered through `errors.py` (a cycle is a 409 naming it, an unknown base a 404).
This server sees a change of bases at once; other servers on the home within a quarter
second (`channels/.bases`). The path sits in the `/api/admin/` family the permissions
work uses (`/api/admin/channels/<channel>/permissions` beside it).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from drawbridge.channel.tokens import Role
from drawbridge.server.auth import require
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import Context, context

router = APIRouter()
ADMIN = "/api/admin/channels"


class Bases(BaseModel):
    """A channel's bases, nearest first: channel names or `upstream:<mirror>`."""

    bases: list[str] = Field(max_length=100)


def _bases_of(ctx: Context, channel: str) -> JSONResponse:
    listed = ctx.channels.bases().get(channel, [])
    levels = ctx.channels.levels(channel)
    return JSONResponse(
        {
            "channel": channel,
            "bases": [str(level) for level in listed],
            "levels": [str(level) for level in levels],
        }
    )


def admin_only(request: Request) -> None:
    """401/403 unless the request carries an admin token: a dependency, so it is checked
    before the body is read (a reader gets 403, not a complaint about the body)."""
    ctx = context(request)
    require(ctx.identity(request), Role.admin, f"{request.method} {request.url.path}")


@router.get(ADMIN + CHANNEL + "/bases", summary="A channel's bases and the levels it serves")
def get_bases(request: Request, channel: str) -> JSONResponse:
    ctx = context(request)
    ctx.check_read(request, channel)
    return _bases_of(ctx, channel)


@router.put(
    ADMIN + CHANNEL + "/bases",
    summary="Replace a channel's bases (admins)",
    dependencies=[Depends(admin_only)],
)
def put_bases(request: Request, channel: str, body: Bases) -> JSONResponse:
    ctx = context(request)
    ctx.channels.set_bases(channel, body.bases)
    ctx.inherited.forget_bases()
    return _bases_of(ctx, channel)
