"""Projects clients asked a channel for and did not find, counted per channel and project
(never who asked), so maintainers see what is most wanted."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from drawbridge.channel.database import Database, MissRow, utcnow


def record_misses(
    database: Database, counts: Mapping[tuple[str, str], int]
) -> list[tuple[str, str]]:
    """Add `counts` ((channel, project) → misses) in one transaction; the pairs missed for
    the first time."""
    first: list[tuple[str, str]] = []
    now = utcnow()
    with database.session() as session:
        for (channel, project), count in sorted(counts.items()):
            row = session.get(MissRow, (channel, project))
            if row is None:
                session.add(
                    MissRow(
                        channel=channel, project=project, count=count, first_seen=now, last_seen=now
                    )
                )
                first.append((channel, project))
            else:
                row.count += count
                row.last_seen = now
    return first


def most_wanted(database: Database, channel: str | None = None, limit: int = 50) -> list[MissRow]:
    """The most missed projects (of `channel`, if given), most wanted first."""
    query = select(MissRow)
    if channel is not None:
        query = query.where(MissRow.channel == channel)
    query = query.order_by(MissRow.count.desc(), MissRow.project).limit(limit)
    with database.session() as session:
        return list(session.scalars(query))
