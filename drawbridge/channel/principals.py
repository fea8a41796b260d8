"""The vocabulary of permissions: actions, principals, a channel's lists, and whether a
principal names an identity (pure; `channel.access` makes the decisions).

Principals are devpi's words: `user:NAME`, `group:NAME`, `:authenticated:` (any valid
token), `:anonymous:` (everyone, without a token too), and `:admins:` (site
administrators only). A project's owner is a principal too (`group:devs`, `user:alice`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drawbridge.channel.errors import InvalidPermission
from drawbridge.channel.tokens import Identity

ACTIONS = ("read", "upload", "review")
EVERYONE = ":anonymous:"
AUTHENTICATED = ":authenticated:"
ADMINS = ":admins:"
SPECIAL_PRINCIPALS = (EVERYONE, AUTHENTICATED, ADMINS)


def parse_principal(text: str) -> str:
    """`text` as a principal: `user:NAME`, `group:NAME` or one of the special words (devpi's
    upper-case spellings too); InvalidPermission naming the forms otherwise."""
    word = text.strip()
    if word.lower() in SPECIAL_PRINCIPALS:
        return word.lower()
    kind, colon, name = word.partition(":")
    if colon and kind in ("user", "group") and name:
        return f"{kind}:{name}"
    raise InvalidPermission(
        f"{text!r} is not a principal: write user:NAME, group:NAME, :authenticated:, "
        ":anonymous: or :admins:"
    )


def parse_principals(values: Iterable[str]) -> tuple[str, ...]:
    """Principals from command-line or JSON values, commas splitting one value into several."""
    return tuple(
        dict.fromkeys(
            parse_principal(part) for value in values for part in value.split(",") if part.strip()
        )
    )


@dataclass(frozen=True)
class ChannelPermissions:
    """A channel's lists per action; an empty list means the server-wide default."""

    read: tuple[str, ...] = ()
    upload: tuple[str, ...] = ()
    review: tuple[str, ...] = ()

    def of(self, action: str) -> tuple[str, ...]:
        names: tuple[str, ...] = getattr(self, action)
        return names

    def as_dict(self) -> dict[str, list[str]]:
        return {action: list(self.of(action)) for action in ACTIONS}


DEFAULT = ChannelPermissions()


def matches(identity: Identity, principal: str) -> bool:
    """Whether `principal` names `identity`."""
    if principal == EVERYONE:
        return True
    if identity.anonymous:
        return False
    if principal == AUTHENTICATED:
        return True
    if principal == ADMINS:
        return identity.admin
    kind, _, name = principal.partition(":")
    return name == identity.user if kind == "user" else name in identity.groups


def owner_of_new_projects(identity: Identity) -> str:
    """The owner a project gets from `identity`'s first upload: their primary group, or them."""
    if identity.primary_group:
        return f"group:{identity.primary_group}"
    return f"user:{identity.user}"


def describe_owner(owner: str) -> str:
    kind, _, name = owner.partition(":")
    return f"group {name!r}" if kind == "group" else f"user {name!r}"
