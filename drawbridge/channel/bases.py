"""Channels that inherit: each channel's ordered bases and the levels its views merge.

A channel's bases are other channels or upstream conda mirrors (`upstream:<name>`), in
order. What a channel serves is its *levels*: itself, then each base's levels in the
order the bases are listed (depth first), each level once, at its nearest place. Where a
file name exists at two levels, the nearest level's file wins (`merging`), and a file URL
of the channel finds a base's file by walking the same levels, so every view agrees.

Nothing is copied into a descendant: its merged pages and repodata are made from the
levels' own pre-rendered files when they are read (`server/inherited.py`), so a publish
into a base costs what it costs in a flat channel, however many channels inherit from it.
A stamp file (`channels/.bases`) is rewritten whenever any channel's bases change, so
servers in other processes notice without asking the database per request
(`channel.stamps`); another
(`channels/.changed`) grows by one byte after any channel's indexes were rewritten, so a
server checks one file per request to know that no merged view can have changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from drawbridge.channel.database import ChannelBaseRow, ChannelRow
from drawbridge.channel.errors import BaseCycle, InvalidName, UnknownChannel
from drawbridge.channel.stamps import renew
from drawbridge.channel.storage import write_text_atomic

#: how a base names an upstream conda mirror
UPSTREAM_BASE = "upstream:"
#: the file rewritten on every change of any channel's bases (under the home's `channels/`)
STAMP = ".bases"
#: the file that grows by a byte whenever any channel's pages or repodata were rewritten
CHANGES = ".changed"
#: past this size `CHANGES` starts again from nothing (a new file)
CHANGES_LIMIT = 1 << 20


@dataclass(frozen=True, order=True)
class Level:
    """One level of a channel's merged views: a channel of this home, or an upstream mirror."""

    name: str
    upstream: bool = False

    def __str__(self) -> str:
        return f"{UPSTREAM_BASE}{self.name}" if self.upstream else self.name


def parse_base(text: str) -> Level:
    """`company/base` or `upstream:conda-forge` as a Level."""
    if text.startswith(UPSTREAM_BASE):
        return Level(text[len(UPSTREAM_BASE) :], upstream=True)
    return Level(text)


def bases_by_channel(session: Session) -> dict[str, list[Level]]:
    """Every channel with bases, and its bases in order."""
    found: dict[str, list[Level]] = {}
    rows = session.scalars(select(ChannelBaseRow).order_by(ChannelBaseRow.position))
    for row in rows:
        found.setdefault(row.channel, []).append(parse_base(row.base))
    return found


def levels_of(channel: str, bases: Mapping[str, Sequence[Level]]) -> list[Level]:
    """`channel` and its bases' levels, depth first in the listed order, each level once at
    its nearest place."""
    order: list[Level] = []
    seen: set[Level] = set()

    def visit(level: Level) -> None:
        if level in seen:
            return
        seen.add(level)
        order.append(level)
        if not level.upstream:
            for base in bases.get(level.name, ()):
                visit(base)

    visit(Level(channel))
    return order


def find_cycle(
    channel: str, new_bases: Sequence[Level], bases: Mapping[str, Sequence[Level]]
) -> list[str] | None:
    """The chain `channel → … → channel` that `new_bases` would make, or None."""
    graph = {name: list(levels) for name, levels in bases.items()}
    graph[channel] = list(new_bases)

    def walk(name: str, path: list[str]) -> list[str] | None:
        for base in graph.get(name, ()):
            if base.upstream:
                continue
            if base.name == channel:
                return [*path, channel]
            if base.name not in path:
                found = walk(base.name, [*path, base.name])
                if found:
                    return found
        return None

    return walk(channel, [channel])


def set_bases(
    session: Session, channel: str, new_bases: Sequence[Level], mirrors: Sequence[str]
) -> None:
    """Replace `channel`'s bases. UnknownChannel for a base channel that does not exist,
    InvalidName for an upstream mirror not configured or a base listed twice, BaseCycle
    (naming the chain) for bases that would make `channel` its own ancestor."""
    if session.get(ChannelRow, channel) is None:
        raise UnknownChannel(
            f"no channel {channel!r}; create it with `drawbridge channel create {channel}`"
        )
    if len(set(new_bases)) != len(new_bases):
        raise InvalidName(f"a base is listed twice for {channel!r}: list each base once")
    for base in new_bases:
        if base.upstream and base.name not in mirrors:
            known = ", ".join(sorted(mirrors)) or "none is configured"
            raise InvalidName(
                f"no upstream conda mirror {base.name!r} ({known}); add it with "
                f"`drawbridge upstream add {base.name} URL`"
            )
        if not base.upstream and session.get(ChannelRow, base.name) is None:
            raise UnknownChannel(
                f"base {base.name!r} of {channel!r} does not exist; create it first with "
                f"`drawbridge channel create {base.name}`"
            )
    cycle = find_cycle(channel, new_bases, bases_by_channel(session))
    if cycle:
        raise BaseCycle(
            f"cannot give {channel!r} these bases: it would inherit from itself "
            f"({' → '.join(cycle)}); remove one of those bases"
        )
    session.execute(delete(ChannelBaseRow).where(ChannelBaseRow.channel == channel))
    session.flush()
    for position, base in enumerate(new_bases):
        session.add(ChannelBaseRow(channel=channel, position=position, base=str(base)))


def touch_stamp(channels_dir: Path) -> None:
    """Tell every server that some channel's bases changed."""
    channels_dir.mkdir(parents=True, exist_ok=True)
    renew(channels_dir / STAMP)
    note_change(channels_dir)


def note_change(channels_dir: Path) -> None:
    """Tell every server that some channel's pages or repodata were just rewritten: the
    file's size changes on every call (an append, no fsync: it is a hint, not a record)."""
    path = channels_dir / CHANGES
    try:
        with path.open("ab") as handle:
            handle.write(b".")
            size = handle.tell()
    except FileNotFoundError:  # the home's channels folder is not there yet
        return
    if size > CHANGES_LIMIT:
        write_text_atomic(path, "")
