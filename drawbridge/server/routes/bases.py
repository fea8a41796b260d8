"""`/api/admin/channels/<channel>/bases`: a channel's bases over HTTP, for its admins only.

Reading and changing them both need an admin token whose limit reaches the channel (bases
name other channels, private ones too); a limited token may name only its own channels as
bases (`administration.check_bases`).

The same library call as `drawbridge channel bases`; the refusals are the channel layer's
errors, answered through `errors.py` (a cycle is a 409 naming it, an unknown base a 404).
This server sees a change of bases at once; other servers on the home within a quarter
second (`channels/.bases`). The path sits in the `/api/admin/` family the permissions
work uses (`/api/admin/channels/<channel>/permissions` beside it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from drawbridge.channel.administration import check_bases
from drawbridge.server.administering import channel_admin
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import Context

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


@router.get(ADMIN + CHANNEL + "/bases", summary="A channel's bases and the levels it serves")
def get_bases(
    request: Request,
    ctx: Annotated[Context, channel_admin("reading a channel's bases")],
    channel: str,
) -> JSONResponse:
    ctx.check_read(request, channel)
    return _bases_of(ctx, channel)


@router.put(ADMIN + CHANNEL + "/bases", summary="Replace a channel's bases (admins)")
def put_bases(
    request: Request,
    ctx: Annotated[Context, channel_admin("changing a channel's bases")],
    channel: str,
    body: Bases,
) -> JSONResponse:
    check_bases(ctx.identity(request), channel, body.bases)
    ctx.channels.set_bases(channel, body.bases)
    ctx.inherited.forget_bases()
    return _bases_of(ctx, channel)
