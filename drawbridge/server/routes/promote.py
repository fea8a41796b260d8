"""Promotion, deletion and channel mutability over HTTP: `POST /api/promote`, `POST
/api/delete` and `PUT /api/admin/channels/<channel>/mutability`, the same library calls as
`drawbridge promote`, `drawbridge delete` (`bridge/promotion.py`) and `channel set`.

Anonymous requests get 401; a token whose role is too weak, or whose user may not do it,
403 (`require`, and `PermissionDenied` in the status table); changing mutability needs an
admin token whose channel limit reaches the channel (`server.administering`). Refusals by
the channel (an immutable source, other bytes in the target) are 4xx from the same table.
Each answers what was done, as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from drawbridge.bridge import promotion
from drawbridge.channel.mutability import Mutability
from drawbridge.channel.tokens import Role
from drawbridge.server.administering import channel_admin
from drawbridge.server.auth import require
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import Context, context

router = APIRouter()

Releases = list[str]


class PromotionRequest(BaseModel):
    """What to promote, from where to where, and why."""

    source: str = Field(min_length=1, max_length=129)
    target: str = Field(min_length=1, max_length=129)
    releases: Releases = Field(min_length=1, max_length=100)
    move: bool = False
    comment: str = Field(min_length=1, max_length=promotion.COMMENT_LENGTH)


class DeletionRequest(BaseModel):
    """What to delete from a volatile channel, and why."""

    channel: str = Field(min_length=1, max_length=129)
    releases: Releases = Field(min_length=1, max_length=100)
    comment: str = Field(min_length=1, max_length=promotion.COMMENT_LENGTH)


@router.post("/api/promote", summary="Copy or move releases from one channel to another")
async def promote(request: Request, body: PromotionRequest) -> dict[str, Any]:
    ctx = context(request)
    identity = ctx.identity(request)
    require(identity, Role.maintainer, "promotion")
    outcome = await run_in_threadpool(
        promotion.promote,
        ctx.channels,
        identity,
        body.source,
        body.target,
        body.releases,
        body.move,
        body.comment,
    )
    return {
        "source": outcome.source,
        "target": outcome.target,
        "move": outcome.move,
        "copied": list(outcome.copied),
        "already": list(outcome.already),
        "removed": list(outcome.removed),
    }


@router.post("/api/delete", summary="Delete releases from a volatile channel")
async def delete(request: Request, body: DeletionRequest) -> dict[str, Any]:
    ctx = context(request)
    identity = ctx.identity(request)
    require(identity, Role.uploader, "deletion")
    outcome = await run_in_threadpool(
        promotion.delete, ctx.channels, identity, body.channel, body.releases, body.comment
    )
    return {"channel": outcome.channel, "removed": list(outcome.removed)}


class MutabilityRequest(BaseModel):
    """What a channel should become."""

    mutability: Mutability


@router.put(
    "/api/admin/channels" + CHANNEL + "/mutability",
    summary="Make a channel standard, immutable or volatile",
)
async def set_mutability(
    ctx: Annotated[Context, channel_admin("changing a channel's mutability")],
    channel: str,
    body: MutabilityRequest,
) -> dict[str, Any]:
    await run_in_threadpool(ctx.channels.set_mutability, channel, body.mutability)
    return {"channel": channel, "mutability": body.mutability.value}
