"""API tokens and roles: who may read, upload, review and administer.

A token is sent as HTTP basic auth with user `__token__` (twine, pip) or in the URL as
`/t/<token>/...` (conda). Only a token's sha256 is stored.

Tokens are `dbt-` and 43 letters and digits (256 bits): conda cuts a `/t/` token at the
first character outside `[A-Za-z0-9-]`, mamba at the first past its second one. Tokens
made before that rule (`dbt_` and URL-safe base64) keep working wherever they can be sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from enum import IntEnum

from fastapi import HTTPException, Request
from sqlalchemy import select

from drawbridge.channel.database import Database, TokenRow
from drawbridge.channel.errors import InvalidName

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
TOKEN_PREFIX = "dbt-"
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 43  # 62**43 > 2**256


class Role(IntEnum):
    """Roles in increasing power; each includes the ones below it."""

    reader = 1
    uploader = 2
    maintainer = 3
    admin = 4


@dataclass(frozen=True)
class Identity:
    """Who a request is from; `anonymous` carries no token."""

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
        rows = list(session.scalars(select(TokenRow).where(TokenRow.user == user, ~TokenRow.revoked)))
        for row in rows:
            row.revoked = True
        return len(rows)


def identify_token(database: Database, token: str) -> Identity | None:
    """The identity a token stands for, or None if it is unknown or revoked."""
    with database.session() as session:
        row = session.scalar(
            select(TokenRow).where(TokenRow.token_sha256 == _hash(token), ~TokenRow.revoked)
        )
    return Identity(user=row.user, role=Role[row.role]) if row else None


def token_from_request(request: Request) -> str | None:
    """The token a request carries: from a `/t/<token>/` prefix, else from basic auth."""
    if token := request.scope.get("drawbridge.token"):
        return token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password if user == "__token__" else None
    if scheme.lower() == "bearer" and value:
        return value
    return None


def identify(request: Request, database: Database) -> Identity:
    """The identity of a request; 401 if it carries a token that is not valid."""
    token = token_from_request(request)
    if token is None:
        return ANONYMOUS
    identity = identify_token(database, token)
    if identity is None:
        raise HTTPException(
            401, "the token is unknown or revoked", {"WWW-Authenticate": 'Basic realm="drawbridge"'}
        )
    return identity


def require(identity: Identity, role: Role, action: str) -> None:
    """401 for anonymous, 403 for a role too weak for `action`."""
    if identity.anonymous:
        raise HTTPException(
            401,
            f"{action} needs a token with the {role.name} role: send it as HTTP basic auth "
            "with user __token__",
            {"WWW-Authenticate": 'Basic realm="drawbridge"'},
        )
    assert identity.role is not None
    if identity.role < role:
        raise HTTPException(
            403, f"{action} needs the {role.name} role; {identity.user} is a {identity.role.name}"
        )


class TokenPrefixMiddleware:
    """Strip `/t/<token>` from the path and remember the token for authentication."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and scope["path"].startswith("/t/"):
            _, _, rest = scope["path"].partition("/t/")
            token, slash, path = rest.partition("/")
            scope = dict(scope)
            scope["path"] = slash + path
            scope["raw_path"] = (slash + path).encode()
            scope["root_path"] = scope.get("root_path", "") + f"/t/{token}"
            scope["drawbridge.token"] = token
        await self.app(scope, receive, send)
