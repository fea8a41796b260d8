"""Tokens for private servers (`anonymous_read = false`), kept out of the lock file.

rattler (solve, install) gets a client that sends the token as a bearer token; uv and
pip take it in the index or file URL. The lock itself only ever holds plain URLs, and
every URL in it is the server's (the mirrors are passed through it), so the token goes
nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:  # imported by the rattler client's maker: uv's URLs need no rattler
    import rattler


def rattler_client(token: str | None) -> rattler.Client | None:
    """A rattler client sending `token`; None (rattler's default client) without one."""
    if not token:
        return None
    import rattler

    return rattler.Client.default_client(headers={"Authorization": f"Bearer {token}"})


def url_with_token(url: str, token: str | None) -> str:
    """`url` with `__token__:<token>@` in it, the way pip and uv send basic auth."""
    if not token:
        return url
    parts = urlsplit(url)
    netloc = f"__token__:{quote(token, safe='')}@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))
