"""Whether files may leave a channel: standard, immutable or volatile (a channel's, as
recorded: `mutability_of`).

- `standard` (the default): a published file is never replaced and never deleted; a
  promotion may still move it on to another channel.
- `immutable`: nothing is removed or replaced, only yanked; a `--move` out of it and any
  deletion are refused, and it never stops being immutable.
- `volatile` (sandboxes): its owner, a maintainer or an admin may delete files and
  projects (`drawbridge delete`).
"""

from __future__ import annotations

from enum import Enum

from drawbridge.channel.database import ChannelRow, Database
from drawbridge.channel.errors import ChannelError, InvalidName, UnknownChannel


class Mutability(str, Enum):
    """A channel's rule for removing files (see the module)."""

    standard = "standard"
    immutable = "immutable"
    volatile = "volatile"

    @classmethod
    def parse(cls, value: str) -> Mutability:
        """The mutability called `value`; InvalidName listing the choices otherwise."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise InvalidName(
                f"{value!r} is not a channel mutability; choose one of {choices}"
            ) from None


def mutability_of(database: Database, channel: str) -> Mutability:
    """A channel's mutability; UnknownChannel if there is no such channel."""
    with database.session() as session:
        row = session.get(ChannelRow, channel)
    if row is None:
        raise UnknownChannel(
            f"no channel {channel!r}; create it with `drawbridge channel create {channel}`"
        )
    return Mutability(row.mutability)


class RemovalRefused(ChannelError):
    """A channel's mutability forbids removing files from it."""


def check_change(channel: str, current: Mutability, wanted: Mutability) -> None:
    """RemovalRefused if an immutable channel would become anything else."""
    if current is Mutability.immutable and wanted is not Mutability.immutable:
        raise RemovalRefused(
            f"channel {channel!r} is immutable and stays so (its users rely on every file "
            "staying); create another channel for files that may change"
        )


def check_move_out(channel: str, mutability: Mutability) -> None:
    """RemovalRefused if files may not be moved out of `channel`."""
    if mutability is Mutability.immutable:
        raise RemovalRefused(
            f"channel {channel!r} is immutable: nothing leaves it; promote without --move "
            "to copy the files instead"
        )


def check_deletion(channel: str, mutability: Mutability) -> None:
    """RemovalRefused if files may not be deleted from `channel`."""
    if mutability is not Mutability.volatile:
        raise RemovalRefused(
            f"channel {channel!r} is {mutability.value}: its files are never deleted; only "
            "volatile channels allow deletion (`drawbridge channel set NAME --volatile`, "
            "for sandboxes), and a file is hidden from pip by yanking it"
        )
