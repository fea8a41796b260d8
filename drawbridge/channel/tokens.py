"""API tokens and roles: who may read, upload, review and administer.

A token is a random string shown once; only its sha256 is stored. Tokens are `dbt-` and
43 letters and digits (256 bits): conda cuts a `/t/<token>/` token at the first character
outside `[A-Za-z0-9-]`, mamba at the first `_` past its second character. Tokens made
before that rule (`dbt_` and URL-safe base64) keep working wherever they can be sent.
How a token travels over HTTP is the server's business (`drawbridge.server.auth`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import select

from drawbridge.channel.database import Database, TokenRow
from drawbridge.channel.errors import InvalidName

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
TOKEN_PREFIX = "dbt-"
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 43  # 62**43 > 2**256
#: longer than any token made now or before (`dbt_` + 43 URL-safe base64 characters)
MAX_TOKEN_LENGTH = 256


class Role(IntEnum):
    """Roles in increasing power; each includes the ones below it."""

    reader = 1
    uploader = 2
    maintainer = 3
    admin = 4

    @property
    def with_article(self) -> str:
        """The role's name after its article, for messages: "a reader", "an uploader"."""
        return ("an " if self.name[0] in "aeiou" else "a ") + self.name


@dataclass(frozen=True)
class Identity:
    """Who a request or command is from; `anonymous` carries no token."""

    user: str
    role: Role | None

    @property
    def anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Identity(user="", role=None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(database: Database, user: str, role: Role) -> str:
    """Create and return a new token for `user`; only its hash is kept."""
    if not USER_NAME.match(user):
        raise InvalidName(f"{user!r} is not a valid user name (letters, digits, . _ @ -)")
    token = TOKEN_PREFIX + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
    with database.session() as session:
        session.add(TokenRow(user=user, role=role.name, token_sha256=_hash(token)))
    return token


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
    """The identity a token stands for, or None if it is unknown or revoked.

    A string no token can be (not printable ASCII, or longer than any) is unknown without a
    query: a NUL byte would make PostgreSQL fail rather than find nothing.
    """
    if not (token.isascii() and token.isprintable()) or len(token) > MAX_TOKEN_LENGTH:
        return None
    with database.session() as session:
        row = session.scalar(
            select(TokenRow).where(TokenRow.token_sha256 == _hash(token), ~TokenRow.revoked)
        )
    return Identity(user=row.user, role=Role[row.role]) if row else None
