"""The outbox's tables: an event per change, written in the change's own transaction; the
webhooks that want them; and one delivery per event and webhook.

The rows live here, apart from what reads and writes them (`events`, `hooks`), because
both need all three: recording an event queues its deliveries, and a delivery names its
event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from drawbridge.channel.database import CHANNEL_NAME_LENGTH, Base, UTCDateTime, utcnow

#: event ids: a BIGINT sequence on PostgreSQL, SQLite's rowid (the same 64 bits)
EventId = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(Base):
    """One change, in the order ids were given: `kind` (`published`, `yanked`, `promoted`,
    `recipe-approved`, `channel-created`, ... : `events.EVENT_KINDS`), the channel it
    happened in ("" for a change of no channel, a recipe decision), its subject (a file
    name, a project, a recipe), and what a receiver needs to act on it (`payload`).
    `path` is a file's place in its channel, for file events: a delivery waits while a
    publish intent for it says the indexes do not show it yet."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_channel_path", "channel", "path"),)
    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    path: Mapped[str | None] = mapped_column(String(400), nullable=True, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HookRow(Base):
    """A webhook: events of `kinds` (in `channel`, or in every channel when it is "") are
    POSTed to `url`, signed with `secret` (kept as given: it is needed to sign)."""

    __tablename__ = "hooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), default="")
    secret: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryRow(Base):
    """One event owed to one webhook: `pending` until the receiver answers 2xx
    (`delivered`) or `expires` passes (`expired`); each failed attempt counts, keeps its
    error and pushes `next_attempt` back."""

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        Index("ix_hook_deliveries_hook_state", "hook", "state", "event"),
        # an event deleted (the outbox pruned, a publish undone) finds its deliveries by it:
        # without it, PostgreSQL's cascade scanned the whole table once per event
        Index("ix_hook_deliveries_event", "event"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hook: Mapped[int] = mapped_column(ForeignKey("hooks.id", ondelete="CASCADE"))
    event: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)
