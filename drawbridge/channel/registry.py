"""Which channels a home has: creating them, their bases, their mutability, their layout.

`ChannelRegistry` is the half of `service.Channels` that deals with channels as such; the
other half (publishing, indexes, promotion, queries) deals with what is in them. A channel
is `name` or `owner/name`; an owner can never also be a plain channel (one folder each).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from drawbridge.channel import bases as channel_bases
from drawbridge.channel import conda_index, pip_view
from drawbridge.channel.access import Access, write_permissions
from drawbridge.channel.bases import Level
from drawbridge.channel.changes import announce
from drawbridge.channel.database import ChannelRow, Database
from drawbridge.channel.errors import InvalidName, UnknownChannel
from drawbridge.channel.events import record_event
from drawbridge.channel.home import Home
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.mutability import Mutability, check_change, mutability_of
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.upstream_conda import upstream_channels


class ChannelRegistry:
    """The channels of one home as such: made, listed, based, laid out on disk."""

    def __init__(self, home: Home, database: Database) -> None:
        self.home = home
        self.db = database
        self.indexes = ChannelIndexes(database, home.channels_dir)
        #: who may read, upload to and review each channel (`channel.access`)
        self.access = Access(home.root, database, home.server.anonymous_read)

    def create(
        self,
        name: str,
        description: str = "",
        permissions: ChannelPermissions | None = None,
        mutability: Mutability = Mutability.standard,
        *,
        bases: Sequence[str] = (),
    ) -> None:
        """Create channel `name` (`name` or `owner/name`), or complete one a crash left
        half-made; with `permissions`, set the lists they give (see `channel.access`); with
        `bases`, set its bases (as `set_bases`) in the same transaction.
        InvalidName if an owner would also be a plain channel."""
        layout = self.home.channel(name)
        lists = permissions if permissions != ChannelPermissions() else None
        with self.db.session() as session:
            made = session.get(ChannelRow, name) is None
            if made:
                _check_owner_clash(session, name)
                session.add(
                    ChannelRow(name=name, description=description, mutability=mutability.value)
                )
                session.flush()
                record_event(
                    session,
                    "channel-created",
                    name,
                    name,
                    {"mutability": mutability.value, "bases": list(bases)},
                )
            # in the channel's own transaction: no process ever sees it without its lists
            if lists is not None:
                write_permissions(session, name, **lists.as_dict())
            if bases:
                channel_bases.set_bases(
                    session, name, [channel_bases.parse_base(b) for b in bases], self._mirrors()
                )
        if bases:
            channel_bases.touch_stamp(self.home.channels_dir)
            announce(self.db, "bases")
        layout.files_dir.mkdir(parents=True, exist_ok=True)
        with self.db.locks.channel(layout):
            if not (layout.conda_dir / "noarch" / "repodata.json").exists():
                conda_index.index_conda(layout, conda_index.CHANNEL_SUBDIRS)
            if not (layout.simple_dir / "index.html").exists():
                self.indexes.write_root_pages(layout)
                pip_view.stamp_pages_format(layout.simple_dir)
        channel_bases.note_change(self.home.channels_dir)
        if made or lists is not None:
            self.access.note_change()  # servers learn of it once its folders are ready

    def set_bases(self, name: str, bases: Sequence[str]) -> None:
        """Make `bases` (channel names or `upstream:<mirror>`, nearest first) the bases of
        channel `name`; an empty list makes it flat. UnknownChannel, InvalidName or
        BaseCycle (naming the cycle) if they cannot be its bases; nothing changes then."""
        with self.db.session() as session:
            channel_bases.set_bases(
                session, name, [channel_bases.parse_base(b) for b in bases], self._mirrors()
            )
            record_event(session, "channel-bases", name, name, {"bases": list(bases)})
        channel_bases.touch_stamp(self.home.channels_dir)
        announce(self.db, "bases")

    def bases(self) -> dict[str, list[Level]]:
        """Every channel that has bases, with its bases in order."""
        with self.db.session() as session:
            return channel_bases.bases_by_channel(session)

    def levels(self, name: str) -> list[Level]:
        """What channel `name` serves, nearest first: itself, then its bases' levels."""
        return channel_bases.levels_of(name, self.bases())

    def _mirrors(self) -> list[str]:
        return list(upstream_channels(self.home.bridge.upstream_conda))

    def mutability(self, name: str) -> Mutability:
        """Whether files may leave channel `name` (`mutability`); UnknownChannel if none."""
        return mutability_of(self.db, name)

    def set_mutability(self, name: str, mutability: Mutability) -> None:
        """Make a channel standard, immutable or volatile; an immutable one stays so."""
        check_change(name, self.mutability(name), mutability)
        with self.db.session() as session:
            row = session.get(ChannelRow, name)
            assert row is not None
            row.mutability = mutability.value
            record_event(
                session, "channel-mutability", name, name, {"mutability": mutability.value}
            )

    def describe(self, name: str) -> str:
        """The channel's description; UnknownChannel if there is no such channel."""
        self.layout(name)
        with self.db.session() as session:
            row = session.get(ChannelRow, name)
            return row.description if row is not None else ""

    def names(self) -> list[str]:
        """Every channel's name, sorted by code point (as on every database: PostgreSQL's
        collations would sort `a-b` after `ab`)."""
        with self.db.session() as session:
            return sorted(session.scalars(select(ChannelRow.name)))

    def layout(self, name: str) -> ChannelLayout:
        """The channel's layout on disk; UnknownChannel if there is no such channel."""
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                raise UnknownChannel(
                    f"no channel {name!r}; create it with `drawbridge channel create {name}`"
                )
        return self.home.channel(name)

    # -- paths (for the server's file routes) -------------------------------------------

    def files_dir(self, channel: str) -> Path:
        return self.home.channel(channel).files_dir

    def simple_dir(self, channel: str) -> Path:
        return self.home.channel(channel).simple_dir

    def conda_dir(self, channel: str) -> Path:
        return self.home.channel(channel).conda_dir


def _check_owner_clash(session: Session, name: str) -> None:
    """InvalidName if `name` would make an owner also a plain channel: `company/dev` while a
    channel `company` exists, or `company` while `company/...` do (one folder each)."""
    owner, slash, _ = name.partition("/")
    if slash:
        if session.get(ChannelRow, owner) is not None:
            raise InvalidName(
                f"cannot create {name!r}: {owner!r} is a channel, and an owner cannot also be "
                f"a channel; choose another owner than {owner!r}"
            )
        return
    owned = session.scalar(
        select(ChannelRow.name).where(ChannelRow.name.startswith(f"{name}/", autoescape=True))
    )
    if owned is not None:
        raise InvalidName(
            f"cannot create {name!r}: it owns channels ({owned!r}), and an owner cannot also be "
            "a channel; choose another name"
        )
