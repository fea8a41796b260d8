"""Projects clients asked a channel for and did not find, counted per channel and project
(never who asked), so maintainers see what is most wanted."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from drawbridge.channel.database import Database, MissRow, utcnow


def record_misses(
    database: Database, counts: Mapping[tuple[str, str], int]
) -> list[tuple[str, str]]:
    """Add `counts` ((channel, project) → misses) in one transaction; the pairs missed for
    the first time. Each pair is one upsert, so the workers of a server (each flushing its
    own counts) never meet a row another made meanwhile: a pair is new where the count
    after the upsert is the count this call added."""
    first: list[tuple[str, str]] = []
    now = utcnow()
    dialect = postgresql if database.engine.dialect.name == "postgresql" else sqlite
    with database.session() as session:
        for (channel, project), count in sorted(counts.items()):
            added = dialect.insert(MissRow).values(
                channel=channel, project=project, count=count, first_seen=now, last_seen=now
            )
            upsert = added.on_conflict_do_update(
                index_elements=[MissRow.channel, MissRow.project],
                set_={"count": MissRow.count + added.excluded.count, "last_seen": now},
            ).returning(MissRow.count)
            if session.execute(upsert).scalar_one() == count:
                first.append((channel, project))
    return first


def most_wanted(database: Database, channel: str | None = None, limit: int = 50) -> list[MissRow]:
    """The most missed projects (of `channel`, if given), most wanted first."""
    query = select(MissRow)
    if channel is not None:
        query = query.where(MissRow.channel == channel)
    query = query.order_by(MissRow.count.desc(), MissRow.project).limit(limit)
    with database.session() as session:
        return list(session.scalars(query))
