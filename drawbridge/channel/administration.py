"""Who may administer: the server (users, groups, creating channels), a channel's settings
(bases, mutability, lists, owners), and which tokens a token may make. The one place these
are decided, beside `channel.access`, which decides reading, uploading, reviewing,
deleting and adding to a project.

An admin token without a channel limit administers the server (users, groups, creating
channels, every channel's settings). An admin token limited to channels administers those
channels only: their permissions, owners, bases (each base one of them, or an upstream
mirror) and mutability; anything server-wide is refused, naming the limit. Any admin token
makes tokens, never one stronger than itself (`check_new_token`): no higher role, no
channel outside its limit, no later expiry.

Pure decisions about a token (`Identity`), save `check_new_token`, which looks up the
user the new token is for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from drawbridge.channel.access import Access
from drawbridge.channel.bases import parse_base
from drawbridge.channel.database import Database, UserRow
from drawbridge.channel.errors import PermissionDenied
from drawbridge.channel.tokens import Identity


def check_site_admin(identity: Identity, action: str) -> None:
    """PermissionDenied unless `identity` may do `action` ("creating users"), which
    concerns the whole server: that needs an admin token without a channel limit."""
    check_admin_role(identity, action)
    if identity.channels is not None:
        raise PermissionDenied(
            f"{action} concerns the whole server, and this token is limited to "
            f"{_limit(identity)}: it administers those channels only; use an admin token "
            "without a channel limit"
        )


def check_channel_admin(identity: Identity, channel: str, action: str) -> None:
    """PermissionDenied unless `identity` is an admin's token; UnknownChannel if its
    channel limit keeps it from `channel` (such a channel does not exist for it, as for
    reading). `action` ("changing a channel's bases") is what was tried, for the message."""
    check_admin_role(identity, action)
    if not identity.reaches(channel):
        raise Access.hidden(channel)


def check_bases(identity: Identity, channel: str, bases: Sequence[str]) -> None:
    """Whether `identity` may give `channel` these bases: it administers the channel,
    and a limited token names only channels of its limit (or upstream mirrors, which
    every token reads); checked before whether they exist, so nothing is learnt."""
    check_channel_admin(identity, channel, "changing a channel's bases")
    levels = [parse_base(text) for text in bases]
    outside = [level.name for level in levels if not level.upstream]
    outside = [name for name in outside if not identity.reaches(name)]
    if outside:
        raise PermissionDenied(
            f"this token is limited to {_limit(identity)}; it may not make "
            f"{', '.join(map(repr, outside))} a base of {channel!r}: a base must be one of "
            "its channels or an upstream mirror"
        )


def check_new_token(
    database: Database,
    identity: Identity,
    user: str,
    channels: Sequence[str] | None,
    expires: dt.datetime | None,
) -> dt.datetime | None:
    """Check that `identity` may make a token for `user` with this channel limit
    (None: none) and expiry (None: not given), and return the expiry it gets. A token
    never makes a stronger one: only admin tokens make tokens (so no role is above the
    maker's), none with a channel outside the maker's limit (an unlimited one from a
    limited one is refused), none that expires later (one made without an expiry
    inherits the maker's). A limited token makes tokens for existing users only:
    creating a user is server-wide."""
    check_admin_role(identity, "making tokens")
    if identity.channels is not None:
        if channels is None:
            raise PermissionDenied(
                f"this token is limited to {_limit(identity)}; it may not make a token "
                "without a channel limit: name channels among those"
            )
        outside = sorted(set(channels) - identity.channels)
        if outside:
            raise PermissionDenied(
                f"this token is limited to {_limit(identity)}; it may not make a token "
                f"limited to {', '.join(map(repr, outside))}: name channels among its own"
            )
        with database.session() as session:
            if session.get(UserRow, user) is None:
                raise PermissionDenied(
                    f"no user {user!r}, and this token is limited to {_limit(identity)}: "
                    "creating a user concerns the whole server; an admin token without a "
                    f"channel limit does it (`drawbridge user create {user}`)"
                )
    if identity.expires is None:
        return expires
    if expires is None:
        return identity.expires
    if expires > identity.expires:
        raise PermissionDenied(
            f"this token expires at {identity.expires.isoformat()}; it may not make a "
            f"token that expires later ({expires.isoformat()})"
        )
    return expires


def check_admin_role(identity: Identity, action: str) -> None:
    """PermissionDenied unless `identity` is an admin's token, limited or not (what a
    limited one may do is for the checks above)."""
    if identity.admin:
        return
    if identity.role is None:
        raise PermissionDenied(f"{action} needs a token with the admin role")
    raise PermissionDenied(
        f"{action} needs the admin role; {identity.user} is {identity.role.with_article}"
    )


def _limit(identity: Identity) -> str:
    """A token's channel limit in words."""
    limit = sorted(identity.channels or ())
    if not limit:
        return "no channel"
    return ("channel " if len(limit) == 1 else "channels ") + ", ".join(map(repr, limit))
