"""A channel in a URL path: `/<name>/...` or `/<owner>/<name>/...`, told apart by what follows.

A channel's URLs go on with a view word (`conda`, `simple`, `files`, `pypi`, `upload`,
`packages`) or end in `/` (its page). Neither part of `owner/name` may be a view word or a
route of the server's own (`channel.home.RESERVED_CHANNEL_PARTS`), so a path reads one way
only: `/company/dev/simple/` is channel `company/dev`, `/dev/simple/company/` is project
`company` in channel `dev`. The routes start with `CHANNEL` (`/{channel:channel}`, the
convertor below); the fast path, which routes nothing, asks `split_channel`.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

from drawbridge.channel.home import CHANNEL_VIEWS, RESERVED_CHANNEL_PARTS

_RESERVED = "|".join(re.escape(word) for word in sorted(RESERVED_CHANNEL_PARTS))
_PART = rf"(?!(?:{_RESERVED})/)[^/]+"
#: `owner/name` first, else a plain name (validity is the channel check's business: an
#: invalid or unknown name is a 404 that names it)
CHANNEL_REGEX = rf"(?:{_PART}/{_PART}|[^/]+)"


class ChannelConvertor(Convertor[str]):
    """`{channel:channel}` in a route: a plain channel name or `owner/name`."""

    regex = CHANNEL_REGEX

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("channel", ChannelConvertor())
#: a route's path up to its channel: `CHANNEL + "/simple/"`
CHANNEL = "/{channel:channel}"


def split_channel(parts: list[str]) -> tuple[str, list[str]] | None:
    """For a path split at "/" (`["", "company", "dev", "simple", ""]`), the channel it names
    and the parts from the view word on (`("company/dev", ["simple", ""])`); None if the
    path names no channel's view."""
    if len(parts) > 2 and parts[2] in CHANNEL_VIEWS:
        return parts[1], parts[2:]
    if (
        len(parts) > 3
        and parts[3] in CHANNEL_VIEWS
        and parts[1] not in RESERVED_CHANNEL_PARTS
        and parts[2] not in RESERVED_CHANNEL_PARTS
    ):
        return f"{parts[1]}/{parts[2]}", parts[3:]
    return None


#: the views `/simple/...` and `/files/...` serve of the default channel
DEFAULT_CHANNEL_ALIASES = frozenset({"simple", "files"})


def channel_in_path(path: str, default_channel: str) -> str | None:
    """The channel a request path is about, if it names one: a view (`/company/dev/simple/`),
    the default channel's aliases (`/simple/`, `/files/`), or a channel's page
    (`/company/dev/`, `/main`). Whether such a channel exists is the caller's question."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in DEFAULT_CHANNEL_ALIASES:
        return default_channel
    named = split_channel(parts)
    if named is not None:
        return named[0]
    if len(parts) < 2 or not parts[1] or parts[1] in RESERVED_CHANNEL_PARTS:
        return None
    if len(parts) == 2 or (len(parts) == 3 and parts[2] == ""):
        return parts[1]  # /main, /main/
    if (len(parts) == 3 or (len(parts) == 4 and parts[3] == "")) and (
        parts[2] not in RESERVED_CHANNEL_PARTS
    ):
        return f"{parts[1]}/{parts[2]}"  # /company/dev, /company/dev/
    return None
