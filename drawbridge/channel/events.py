"""The event outbox: `record_event` adds a change's event, and a delivery for each webhook
that wants it, inside the caller's transaction, so an event exists exactly when its change
was committed and nothing is lost when a process dies between the two.

Ids are given in order (a sequence); readers (webhook deliveries, a replica noticing
changes, `events_since`) follow them. On PostgreSQL an id is taken when the row is
written and becomes visible when its transaction commits, so two concurrent transactions
may commit in the other order: readers must not treat the newest id seen as a promise
that no lower one will appear (deliveries are rows of their own for that reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.outbox import DeliveryRow, EventRow, HookRow

#: what can happen: files (published, yanked and un-yanked, copied in by a promotion,
#: moved out by one, deleted), recipe decisions, channel changes
EventKind = Literal[
    "published",
    "yanked",
    "unyanked",
    "promoted",
    "moved",
    "deleted",
    "recipe-approved",
    "recipe-rejected",
    "channel-created",
    "channel-bases",
    "channel-permissions",
    "channel-mutability",
    "project-owner",
    "docs-uploaded",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
#: how long a webhook's delivery is retried before it is given up
DELIVERY_LIFETIME = dt.timedelta(days=3)
#: rows `prune_outbox` deletes per transaction: a big outbox pruned without holding
#: SQLite's write lock (or PostgreSQL's row locks) for long
PRUNE_BATCH = 5000


class UnknownEventKind(ChannelError):
    """An event kind that Drawbridge never records (a webhook asking for it would wait
    forever)."""


def check_kinds(kinds: list[str]) -> list[str]:
    """`kinds` as given, or UnknownEventKind naming the first unknown one and the choices."""
    if not kinds:
        raise UnknownEventKind(
            f"name at least one event kind; choose from {', '.join(EVENT_KINDS)}"
        )
    for kind in kinds:
        if kind not in EVENT_KINDS:
            raise UnknownEventKind(f"no event kind {kind!r}; choose from {', '.join(EVENT_KINDS)}")
    return list(dict.fromkeys(kinds))


@dataclass(frozen=True)
class Event:
    """An event as readers see it."""

    id: int
    kind: str
    channel: str
    subject: str
    payload: dict[str, Any]
    created: dt.datetime

    def as_json(self) -> dict[str, Any]:
        """The body a webhook receives."""
        return {
            "id": self.id,
            "event": self.kind,
            "channel": self.channel,
            "subject": self.subject,
            "created": self.created.isoformat(),
            "data": self.payload,
        }


def record_event(
    session: Session,
    kind: EventKind,
    channel: str = "",
    subject: str = "",
    payload: Mapping[str, Any] | None = None,
    path: str | None = None,
) -> EventRow:
    """Add an event (and a pending delivery for each webhook that wants it) to `session`,
    which commits it with the change it describes."""
    row = EventRow(
        kind=kind, channel=channel, subject=subject, path=path, payload=dict(payload or {})
    )
    session.add(row)
    session.flush()  # its id, for the deliveries
    expires = row.created + DELIVERY_LIFETIME
    for hook_id, kinds in session.execute(
        select(HookRow.id, HookRow.kinds).where(
            or_(HookRow.channel == "", HookRow.channel == channel)
        )
    ):
        if kind in kinds:
            session.add(
                DeliveryRow(hook=hook_id, event=row.id, expires=expires, next_attempt=row.created)
            )
    return row


def forget_file_event(session: Session, channel: str, path: str, kinds: tuple[str, ...]) -> None:
    """Take back the newest event of `kinds` for the file at `path` (and its deliveries): a
    publish undone before anyone could see it never happened."""
    newest = session.scalar(
        select(func.max(EventRow.id)).where(
            EventRow.channel == channel, EventRow.path == path, EventRow.kind.in_(kinds)
        )
    )
    if newest is not None:
        session.execute(delete(DeliveryRow).where(DeliveryRow.event == newest))
        session.execute(delete(EventRow).where(EventRow.id == newest))


def newest_event_id(session: Session) -> int:
    """The highest event id committed so far (0 for none): what a replica polls."""
    return session.scalar(select(func.max(EventRow.id))) or 0


def events_since(session: Session, after: int, limit: int = 1000) -> list[Event]:
    """Events with an id above `after`, oldest first (at most `limit`)."""
    rows = session.scalars(
        select(EventRow).where(EventRow.id > after).order_by(EventRow.id).limit(limit)
    )
    return [event_from_row(row) for row in rows]


def event_from_row(row: EventRow) -> Event:
    """A recorded event as readers see it."""
    return Event(row.id, row.kind, row.channel, row.subject, dict(row.payload), row.created)


def file_payload(
    kind: Literal["pypi", "conda"],
    filename: str,
    project: str,
    version: str,
    sha256: str,
    subdir: str | None,
    **more: Any,
) -> dict[str, Any]:
    """What a file event says about its file."""
    payload: dict[str, Any] = {
        "view": kind,
        "filename": filename,
        "project": project,
        "version": version,
        "sha256": sha256,
    }
    if subdir:
        payload["subdir"] = subdir
    payload.update(more)
    return payload


@dataclass(frozen=True)
class Pruned:
    """What `prune_outbox` deleted."""

    events: int
    deliveries: int


def prune_outbox(database: Database, before: dt.datetime, batch: int = PRUNE_BATCH) -> Pruned:
    """Delete the webhook deliveries that finished (delivered or expired) before `before`,
    then the events recorded before it that no delivery names, `batch` rows a
    transaction. A pending delivery and its event stay, however old. The newest event
    always stays: SQLite gives a new row the highest id + 1, so removing it would give its
    id again, and a reader that had seen it (a replica) would skip the new event."""
    deliveries = _delete_batches(
        database,
        DeliveryRow,
        DeliveryRow.id,
        (DeliveryRow.state != "pending") & (DeliveryRow.finished < before),
        batch,
    )
    with database.session() as session:
        newest = newest_event_id(session)
    events = _delete_batches(
        database,
        EventRow,
        EventRow.id,
        (EventRow.created < before)
        & (EventRow.id < newest)
        & ~exists().where(DeliveryRow.event == EventRow.id),
        batch,
    )
    return Pruned(events, deliveries)


def _delete_batches(
    database: Database,
    table: type[EventRow] | type[DeliveryRow],
    key: InstrumentedAttribute[int],
    condition: ColumnElement[bool],
    batch: int,
) -> int:
    """Delete the rows of `table` that match `condition`, lowest `key` first, `batch` a
    transaction; return how many this call deleted (another server pruning at the same
    time may have deleted some of those it chose)."""
    removed = 0
    while True:
        with database.session() as session:
            keys = list(session.scalars(select(key).where(condition).order_by(key).limit(batch)))
            if keys:
                # the session's connection, in its transaction: its result counts the rows
                deleted = session.connection().execute(delete(table).where(key.in_(keys)))
                removed += deleted.rowcount
        if len(keys) < batch:
            return removed
