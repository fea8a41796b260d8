"""Who may call the `/api/admin/` routes: dependencies that ask `channel.administration`
(and `channel.access`, for a channel's reviewers) before a route runs (and before its body
is read), so no route compares roles itself.

Three kinds of route: server-wide ones (users, groups, creating channels: an admin token
without a channel limit), a channel's settings (bases, mutability: an admin token whose
limit reaches the channel) and a channel's lists and owners (its reviewers, admins
included). Making tokens needs any admin token; the route then asks
`administration.check_new_token` about the token asked for. Without a token each answers
401; a token that may not, 403; a channel the token may not reach, 404 (it does not exist
for it).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from drawbridge.channel.administration import (
    check_admin_role,
    check_channel_admin,
    check_site_admin,
)
from drawbridge.channel.tokens import Identity, Role
from drawbridge.server.auth import authenticated
from drawbridge.server.context import Context, context


def site_admin(action: str) -> Any:
    """Depends on: the request comes from an admin token without a channel limit; gives the
    context. `action` ("creating users") names what the route does, for the refusals."""

    def dependency(request: Request) -> Context:
        ctx = context(request)
        identity = authenticated(ctx.identity(request), Role.admin, action)
        check_site_admin(identity, action)
        return ctx

    return Depends(dependency)


def channel_admin(action: str) -> Any:
    """Depends on: the request comes from an admin token whose limit reaches the path's
    `channel` (whether the channel exists is the route's to say); gives the context."""

    def dependency(request: Request, channel: str) -> Context:
        ctx = context(request)
        identity = authenticated(ctx.identity(request), Role.admin, action)
        check_channel_admin(identity, channel, action)
        return ctx

    return Depends(dependency)


def channel_reviewer(request: Request, channel: str) -> Context:
    """The context, once the request comes from a reviewer of the path's `channel` (404 for
    a channel it may not read, 401 without a token, 403 for one it may not administer)."""
    ctx = context(request)
    ctx.check_read(request, channel)
    identity = authenticated(ctx.identity(request), Role.maintainer, "administering a channel")
    ctx.access.check_review(identity, channel)
    return ctx


def token_maker(request: Request) -> Identity:
    """The identity of a request from an admin token, limited or not: what it may make is
    `administration.check_new_token`'s to decide once the body is read."""
    ctx = context(request)
    identity = authenticated(ctx.identity(request), Role.admin, "making tokens")
    check_admin_role(identity, "making tokens")
    return identity
