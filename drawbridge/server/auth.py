"""Tokens over HTTP: basic auth with user `__token__` (twine, pip), a bearer token, or the
URL prefix `/t/<token>/...` (conda, taken off the path by `asgi.token_prefix`); 401 and 403
for requests that lack what they need.

Tokens themselves (making, revoking, looking up) are `drawbridge.channel.tokens`.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import HTTPException, Request

from drawbridge.channel.database import Database
from drawbridge.channel.tokens import ANONYMOUS, Identity, Role, identify_token


#: where `asgi.token_prefix` keeps the token of a `/t/<token>/` URL in the request's scope
TOKEN_KEY = "drawbridge.token"


def token_from_request(request: Request) -> str | None:
    """The token a request carries: from a `/t/<token>/` prefix, else from basic auth."""
    if token := request.scope.get(TOKEN_KEY):  # set by the `/t/<token>/` middleware
        return str(token)
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


#: where a request's identity is kept once looked up (the gate looks first when reads are private)
IDENTITY_KEY = "drawbridge.identity"


def identify(request: Request, database: Database) -> Identity:
    """The identity of a request; 401 if it carries a token that is not valid.

    Looked up once per request: the answer is kept in the request's scope.
    """
    known = request.scope.get(IDENTITY_KEY)
    if isinstance(known, Identity):
        return known
    token = token_from_request(request)
    if token is None:
        return ANONYMOUS
    identity = identify_token(database, token)
    if identity is None:
        raise HTTPException(
            401,
            "the token is unknown, revoked or expired, or its user is disabled",
            {"WWW-Authenticate": 'Basic realm="drawbridge"'},
        )
    request.scope[IDENTITY_KEY] = identity
    return identity


def authenticated(identity: Identity, role: Role, action: str) -> Identity:
    """`identity`, unless it is anonymous: 401 then, saying `action` needs a token of `role`
    (whether this token may do it is `channel.access`'s decision)."""
    if identity.anonymous:
        raise HTTPException(
            401,
            f"{action} needs a token with the {role.name} role: send it as HTTP basic auth "
            "with user __token__",
            {"WWW-Authenticate": 'Basic realm="drawbridge"'},
        )
    return identity


def require(identity: Identity, role: Role, action: str) -> None:
    """401 for anonymous, 403 for a role too weak for `action`."""
    authenticated(identity, role, action)
    assert identity.role is not None
    if identity.role < role:
        raise HTTPException(
            403,
            f"{action} needs the {role.name} role; {identity.user} is {identity.role.with_article}",
        )
