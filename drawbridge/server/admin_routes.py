"""`/api/admin/channels`: create channels and set their bases over HTTP, with an admin token.

The same library calls as `drawbridge channel create` and `drawbridge channel bases`; the
refusals are the channel layer's errors, answered through `errors.py` (a cycle is a 409
naming it, an unknown base a 404). This server sees a change of bases at once; other
servers on the home within a quarter second (`channels/.bases`).
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


class NewChannel(BaseModel):
    """A channel to create: `name` or `owner/name`, and its bases, nearest first."""

    name: str = Field(min_length=1, max_length=129)
    description: str = Field(default="", max_length=2000)
    bases: list[str] = Field(default_factory=list, max_length=100)


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


@router.post(
    ADMIN,
    status_code=201,
    summary="Create a channel, with its bases (admins)",
    dependencies=[Depends(admin_only)],
)
def create_channel(request: Request, body: NewChannel) -> JSONResponse:
    ctx = context(request)
    ctx.channels.create(body.name, body.description, bases=body.bases)
    ctx.known_channels.add(body.name)
    ctx.inherited.forget_bases()
    answer = _bases_of(ctx, body.name)
    answer.status_code = 201
    return answer


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
