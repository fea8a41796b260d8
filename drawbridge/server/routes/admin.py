"""`/api/admin/...`: users, groups, tokens, channels and their permissions over HTTP, as JSON.

Users, groups and new channels need an admin token without a channel limit; tokens any
admin token (never one stronger than itself); a channel's permissions and its projects'
owners may also be changed by the channel's reviewers (`Access.may_review`). Who may is
asked of `channel.access` through `server.administering`; the errors are the channel
layer's (`channel.access`, `channel.accounts`), `server/errors.py` gives them their
statuses. docs/operating.md lists every call.
"""

from __future__ import annotations

from functools import partial

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from drawbridge.channel.mutability import Mutability
from drawbridge.channel.principals import ChannelPermissions, parse_principals
from drawbridge.channel.accounts import Accounts, Group, User
from drawbridge.channel.administration import check_new_token
from drawbridge.channel.errors import InvalidPermission
from drawbridge.channel.tokens import Identity, Role, create_token, parse_expiry, revoke_tokens
from drawbridge.server.administering import channel_reviewer, site_admin, token_maker
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import Context, context

router = APIRouter(prefix="/api/admin", tags=["admin"])


class NewUser(BaseModel):
    name: str
    primary_group: str | None = None


class NewGroup(BaseModel):
    name: str


class NewToken(BaseModel):
    user: str
    role: str = "reader"
    channels: list[str] | None = None
    expires: str | None = Field(None, description="a duration (30d, 12h) or an ISO date")
    platforms: list[str] | None = Field(
        None, description="the subdirs a builder token builds for (builder tokens only)"
    )


class Permissions(BaseModel):
    read: list[str] | None = None
    upload: list[str] | None = None
    review: list[str] | None = None


class NewChannel(Permissions):
    name: str
    description: str = ""
    bases: list[str] = Field(
        default_factory=list, description="channels or upstream:<mirror>, nearest first"
    )
    mutability: Mutability = Mutability.standard


class Owner(BaseModel):
    owner: str = Field(description="user:NAME or group:NAME")


ReviewerContext = Annotated[Context, Depends(channel_reviewer)]


def _user(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "primary_group": user.primary_group,
        "groups": list(user.groups),
        "disabled": user.disabled,
        "tokens": user.tokens,
    }


def _group(group: Group) -> dict[str, Any]:
    return {"name": group.name, "members": list(group.members)}


def _permissions(ctx: Context, channel: str) -> dict[str, Any]:
    return {"channel": channel, **ctx.access.permissions(channel).as_dict()}


@router.get("/users", summary="Every user, with groups and live tokens")
def list_users(ctx: Annotated[Context, site_admin("listing users")]) -> JSONResponse:
    return JSONResponse({"users": [_user(user) for user in Accounts(ctx.database).users()]})


@router.post("/users", summary="Create a user", status_code=201)
async def create_user(
    ctx: Annotated[Context, site_admin("creating users")], body: NewUser
) -> JSONResponse:
    made = await run_in_threadpool(
        Accounts(ctx.database).create_user, body.name, body.primary_group
    )
    return JSONResponse(_user(made), status_code=201)


@router.post("/users/{name}/disable", summary="Disable a user: every token of theirs is refused")
def disable_user(ctx: Annotated[Context, site_admin("disabling users")], name: str) -> JSONResponse:
    return JSONResponse(_user(Accounts(ctx.database).set_disabled(name)))


@router.post("/users/{name}/enable", summary="Enable a disabled user again")
def enable_user(ctx: Annotated[Context, site_admin("enabling users")], name: str) -> JSONResponse:
    return JSONResponse(_user(Accounts(ctx.database).set_disabled(name, False)))


@router.get("/groups", summary="Every group with its members")
def list_groups(ctx: Annotated[Context, site_admin("listing groups")]) -> JSONResponse:
    return JSONResponse({"groups": [_group(group) for group in Accounts(ctx.database).groups()]})


@router.post("/groups", summary="Create a group", status_code=201)
def create_group(
    ctx: Annotated[Context, site_admin("creating groups")], body: NewGroup
) -> JSONResponse:
    return JSONResponse(_group(Accounts(ctx.database).create_group(body.name)), status_code=201)


@router.put("/groups/{group}/members/{user}", summary="Add a user to a group")
def add_member(
    ctx: Annotated[Context, site_admin("changing groups")], group: str, user: str
) -> JSONResponse:
    return JSONResponse(_group(Accounts(ctx.database).add_members(group, [user])))


@router.delete("/groups/{group}/members/{user}", summary="Take a user out of a group")
def remove_member(
    ctx: Annotated[Context, site_admin("changing groups")], group: str, user: str
) -> JSONResponse:
    return JSONResponse(_group(Accounts(ctx.database).remove_members(group, [user])))


@router.post("/tokens", summary="Create a token for a user (shown once)", status_code=201)
def make_token(
    request: Request, maker: Annotated[Identity, Depends(token_maker)], body: NewToken
) -> JSONResponse:
    if body.role not in Role.__members__:
        raise InvalidPermission(
            f"no role {body.role!r}; choose one of {', '.join(Role.__members__)}"
        )
    ctx = context(request)
    role = Role[body.role]
    asked = parse_expiry(body.expires) if body.expires else None
    expires = check_new_token(ctx.database, maker, body.user, body.channels, asked)
    if body.platforms is not None and role is not Role.builder:
        raise InvalidPermission("platforms limit builder tokens only: make it role builder")
    token = create_token(ctx.database, body.user, role, body.channels, expires, body.platforms)
    return JSONResponse(
        {
            "user": body.user,
            "role": body.role,
            "channels": body.channels,
            "platforms": body.platforms,
            "expires": expires.isoformat() if expires else None,
            "token": token,
        },
        status_code=201,
    )


@router.post("/users/{name}/revoke-tokens", summary="Revoke every token of a user")
def revoke(ctx: Annotated[Context, site_admin("revoking tokens")], name: str) -> JSONResponse:
    return JSONResponse({"user": name, "revoked": revoke_tokens(ctx.database, name)})


@router.post(
    "/channels",
    summary="Create a channel, with its permissions, bases and mutability",
    status_code=201,
)
async def create_channel(
    ctx: Annotated[Context, site_admin("creating channels")], body: NewChannel
) -> JSONResponse:
    permissions = ChannelPermissions(
        read=parse_principals(body.read or ()),
        upload=parse_principals(body.upload or ()),
        review=parse_principals(body.review or ()),
    )
    await run_in_threadpool(
        partial(
            ctx.channels.create,
            body.name,
            body.description,
            permissions,
            body.mutability,
            bases=body.bases,
        )
    )
    made = {
        **_permissions(ctx, body.name),
        "bases": body.bases,
        "mutability": body.mutability.value,
    }
    return JSONResponse(made, status_code=201)


@router.get("/channels" + CHANNEL + "/permissions", summary="A channel's lists")
def get_permissions(ctx: ReviewerContext, channel: str) -> JSONResponse:
    return JSONResponse(_permissions(ctx, channel))


@router.put(
    "/channels" + CHANNEL + "/permissions",
    summary="Replace a channel's lists (those given; [] restores the default)",
)
def set_permissions(ctx: ReviewerContext, channel: str, body: Permissions) -> JSONResponse:
    ctx.access.set_permissions(channel, body.read, body.upload, body.review)
    return JSONResponse(_permissions(ctx, channel))


@router.put(
    "/channels" + CHANNEL + "/projects/{project}/owner",
    summary="Give a project in a channel to another user or group",
)
def set_owner(ctx: ReviewerContext, channel: str, project: str, body: Owner) -> JSONResponse:
    owner = ctx.access.set_owner(channel, project, body.owner)
    return JSONResponse({"channel": channel, "project": project, "owner": owner})
