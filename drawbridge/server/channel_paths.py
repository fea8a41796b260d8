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
