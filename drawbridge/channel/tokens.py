"""API tokens and roles: who a token speaks for, and how far it may act.

A token belongs to a user (`channel.accounts`), has a role that caps what it may do
(`reader < builder < uploader < maintainer < admin`; `admin` is the site administrator),
may be limited to some channels and may expire. A `builder` token (a build agent's) reads
what a reader reads, builds the jobs of the platforms it is limited to and uploads nothing
through the upload routes. Roles are stored by name, so their numbers may change. What a
user may do in a channel is the channel's permissions' business (`channel.access`), and so
is which tokens a token may make over HTTP (`administration.check_new_token`: none
stronger than itself).

A token is a random string shown once; only its sha256 is stored. Tokens are `dbt-` and
43 letters and digits (256 bits): conda cuts a `/t/<token>/` token at the first character
outside `[A-Za-z0-9-]`, mamba at the first `_` past its second character. Tokens made
before that rule (`dbt_` and URL-safe base64) keep working wherever they can be sent.
How a token travels over HTTP is the server's business (`drawbridge.server.auth`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from drawbridge.channel.database import (
    ChannelRow,
    Database,
    GroupMemberRow,
    TokenRow,
    UserRow,
    utcnow,
)
from drawbridge.channel.errors import InvalidName, UnknownChannel

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
TOKEN_PREFIX = "dbt-"
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 43  # 62**43 > 2**256
#: longer than any token made now or before (`dbt_` + 43 URL-safe base64 characters)
MAX_TOKEN_LENGTH = 256


class Role(IntEnum):
    """Roles in increasing power; each includes the ones below it."""

    reader = 1
    builder = 2
    uploader = 3
    maintainer = 4
    admin = 5

    @property
    def with_article(self) -> str:
        """The role's name after its article, for messages: "a reader", "an uploader"."""
        return ("an " if self.name[0] in "aeiou" else "a ") + self.name


@dataclass(frozen=True)
class Identity:
    """Who a request or command is from; `anonymous` carries no token.

    `channels` is the token's channel limit (None: every channel); `groups` the user's
    groups and `primary_group` the one that owns the projects they start; `expires` when
    the token stops working (None: never); `platforms` the subdirs a builder token may
    build for (None: every one).
    """

    user: str
    role: Role | None
    channels: frozenset[str] | None = None
    groups: frozenset[str] = frozenset()
    primary_group: str | None = None
    expires: dt.datetime | None = None
    platforms: frozenset[str] | None = None

    @property
    def anonymous(self) -> bool:
        return self.role is None

    @property
    def admin(self) -> bool:
        return self.role is Role.admin

    def reaches(self, channel: str) -> bool:
        """Whether the token's channel limit lets it near `channel` at all."""
        return self.channels is None or channel in self.channels


ANONYMOUS = Identity(user="", role=None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user_name(user: str) -> None:
    """InvalidName unless `user` can be a user (or group) name."""
    if not USER_NAME.match(user):
        raise InvalidName(f"{user!r} is not a valid user name (letters, digits, . _ @ -)")


def create_token(
    database: Database,
    user: str,
    role: Role,
    channels: Sequence[str] | None = None,
    expires: dt.datetime | None = None,
    platforms: Sequence[str] | None = None,
) -> str:
    """Create and return a new token for `user`; only its hash is kept.

    A user not known yet is created (no groups): tokens always belong to a user row.
    `channels` limits the token to those channels (each must exist); past `expires` it is
    refused; `platforms` limits a builder token to building for those subdirs.
    """
    check_user_name(user)
    token = TOKEN_PREFIX + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
    with database.session() as session:
        if channels is not None:
            _check_channels(session, channels)
        if session.get(UserRow, user) is None:
            session.add(UserRow(name=user))
            session.flush()
        session.add(
            TokenRow(
                user=user,
                role=role.name,
                token_sha256=_hash(token),
                channels=sorted(set(channels)) if channels is not None else None,
                expires=expires,
                platforms=sorted(set(platforms)) if platforms is not None else None,
            )
        )
    return token


def _check_channels(session: Session, channels: Sequence[str]) -> None:
    for name in channels:
        if session.get(ChannelRow, name) is None:
            raise UnknownChannel(
                f"no channel {name!r} to limit the token to; create it with `drawbridge "
                f"channel create {name}` or name an existing one"
            )


def revoke_token(database: Database, token: str) -> bool:
    """Revoke one token; whether it existed and was not revoked yet."""
    with database.session() as session:
        row = session.scalars(select(TokenRow).where(TokenRow.token_sha256 == _hash(token))).first()
        if row is None or row.revoked:
            return False
        row.revoked = True
        return True


def revoke_tokens(database: Database, user: str) -> int:
    """Revoke every token of `user`; return how many were revoked."""
    with database.session() as session:
        rows = list(
            session.scalars(select(TokenRow).where(TokenRow.user == user, ~TokenRow.revoked))
        )
        for row in rows:
            row.revoked = True
        return len(rows)


def identify_token(database: Database, token: str) -> Identity | None:
    """The identity a token stands for, or None if it is unknown, revoked or expired, or
    its user is disabled.

    A string no token can be (not printable ASCII, or longer than any) is unknown without a
    query: a NUL byte would make PostgreSQL fail rather than find nothing.
    """
    if not (token.isascii() and token.isprintable()) or len(token) > MAX_TOKEN_LENGTH:
        return None
    with database.session() as session:
        found = session.execute(
            select(TokenRow, UserRow)
            .join(UserRow, UserRow.name == TokenRow.user)
            .where(TokenRow.token_sha256 == _hash(token), ~TokenRow.revoked)
        ).first()
        if found is None:
            return None
        row, user = found
        if user.disabled or (row.expires is not None and row.expires <= utcnow()):
            return None
        groups = frozenset(
            session.scalars(select(GroupMemberRow.group).where(GroupMemberRow.user == row.user))
        )
    return Identity(
        user=row.user,
        role=Role[row.role],
        channels=frozenset(row.channels) if row.channels is not None else None,
        groups=groups,
        primary_group=user.primary_group,
        expires=row.expires,
        platforms=frozenset(row.platforms) if row.platforms is not None else None,
    )


_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """When a token given `--expires text` expires: a duration from now (`90m`, `12h`,
    `30d`, `2w`) or a moment (`2026-12-31`, `2026-12-31T18:00:00+01:00`; UTC unless it
    says otherwise). InvalidName, naming the forms, for anything else or a moment past."""
    now = now or utcnow()
    word = text.strip()
    if found := _DURATION.match(word):
        moment = now + dt.timedelta(seconds=int(found[1]) * _UNIT_SECONDS[found[2]])
    else:
        try:
            moment = dt.datetime.fromisoformat(word)
        except ValueError:
            raise InvalidName(
                f"{text!r} is not an expiry: write a duration (90m, 12h, 30d, 2w) or a date "
                "(2026-12-31, or 2026-12-31T18:00:00+00:00)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    if moment <= now:
        raise InvalidName(f"the expiry {text!r} is not in the future")
    return moment
