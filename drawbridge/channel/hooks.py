"""Webhooks as the database keeps them: adding, listing and removing them, their
deliveries, and the one step a delivery worker repeats (`Hooks.deliver_due`): for each
webhook in turn, its oldest pending delivery, if it is due, posted by the caller's
function and its outcome recorded.

A webhook's deliveries go in event order: a later event waits while an earlier one is
pending (retried with exponential back-off and jitter until it is delivered or expires).
An event whose file the indexes do not show yet (a publish intent still names it) waits
too, so a receiver that installs what it was told of finds it. Several servers on one
PostgreSQL database share the work: each webhook is taken with `FOR NO KEY UPDATE SKIP
LOCKED` while one of its deliveries is claimed (a lease, so no transaction stays open
during a POST); on SQLite the caller keeps to one worker per home (`server.webhooks`
holds a file lock).
"""

from __future__ import annotations

import builtins

import datetime as dt
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from drawbridge.channel.database import ChannelRow, Database, PublishIntentRow, utcnow
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.events import Event, check_kinds, event_from_row
from drawbridge.channel.outbox import DeliveryRow, EventRow, HookRow

#: the first retry's delay, and the longest between two attempts
FIRST_RETRY = dt.timedelta(seconds=1)
LONGEST_RETRY = dt.timedelta(hours=1)
#: how long a claimed delivery is left to the server that claimed it (longer than a POST
#: may take: `server.webhooks.POST_TIMEOUT_SECONDS`); a server killed mid-POST leaves it
#: to be taken again after this
LEASE = dt.timedelta(seconds=30)
#: what an error message keeps of a receiver's answer
ERROR_LENGTH = 500


class UnknownHook(ChannelError):
    """No webhook of that id exists."""


class InvalidHook(ChannelError):
    """A webhook that could never be delivered as given (a URL that is not http(s))."""


@dataclass(frozen=True)
class Hook:
    """A webhook as listed (its secret is never shown again after it was made)."""

    id: int
    url: str
    kinds: tuple[str, ...]
    channel: str
    created_by: str
    created: dt.datetime


@dataclass(frozen=True)
class Delivery:
    """One event owed to one webhook, and how its delivery stands."""

    id: int
    hook: int
    event: int
    kind: str
    state: str
    attempts: int
    next_attempt: dt.datetime
    last_status: int | None
    last_error: str
    finished: dt.datetime | None

    @property
    def header_id(self) -> str:
        """`X-Drawbridge-Delivery`: the same on every attempt, so receivers de-duplicate."""
        return delivery_id(self.event, self.hook)


@dataclass(frozen=True)
class Attempt:
    """What posting one delivery gave: a status (None if no answer came) and an error."""

    status: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


#: what a worker does with a due delivery: post `event` to `url` signed with `secret`
Poster = Callable[[str, str, Event, str], Attempt]


def delivery_id(event: int, hook: int) -> str:
    return f"{event}-{hook}"


def retry_delay(attempts: int, rng: random.Random | None = None) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt: doubling from
    FIRST_RETRY up to LONGEST_RETRY, the second half of it random ("equal jitter"), so
    receivers coming back are not hit by every server at once."""
    doublings = max(0, min(attempts - 1, 30))
    ceiling = min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY)
    chance = rng.random() if rng else random.random()
    return ceiling / 2 + ceiling / 2 * chance


class Hooks:
    """The webhooks of one home's database and their deliveries."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def add(
        self, url: str, kinds: list[str], channel: str = "", secret: str = "", user: str = ""
    ) -> tuple[Hook, str]:
        """Add a webhook for `kinds` (in `channel`, or everywhere); return it and its
        secret (`secret`, or a new random one): the only time the secret is shown."""
        if not url.startswith(("http://", "https://")):
            raise InvalidHook(f"{url!r} is not an http:// or https:// URL; give the receiver's URL")
        kinds = check_kinds(kinds)
        secret = secret or secrets.token_hex(32)
        with self.db.session() as session:
            if channel:
                if session.get(ChannelRow, channel) is None:
                    raise InvalidHook(
                        f"no channel {channel!r}; name an existing channel, or none for all"
                    )
            row = HookRow(url=url, kinds=kinds, channel=channel, secret=secret, created_by=user)
            session.add(row)
            session.flush()
            return _hook(row), secret

    def list(self) -> builtins.list[Hook]:
        with self.db.session() as session:
            return [_hook(row) for row in session.scalars(select(HookRow).order_by(HookRow.id))]

    def remove(self, hook_id: int) -> None:
        """Remove a webhook and what it was still owed; UnknownHook if there is none."""
        with self.db.session() as session:
            if session.get(HookRow, hook_id) is None:
                raise UnknownHook(f"no webhook {hook_id}; `drawbridge hook list` shows them")
            session.execute(delete(DeliveryRow).where(DeliveryRow.hook == hook_id))
            session.execute(delete(HookRow).where(HookRow.id == hook_id))

    def deliveries(self, hook_id: int | None = None, limit: int = 100) -> builtins.list[Delivery]:
        """The newest deliveries (of one webhook, or all), newest first."""
        query = select(DeliveryRow, EventRow.kind).join(EventRow, EventRow.id == DeliveryRow.event)
        if hook_id is not None:
            query = query.where(DeliveryRow.hook == hook_id)
        with self.db.session() as session:
            rows = session.execute(query.order_by(DeliveryRow.id.desc()).limit(limit))
            return [_delivery(row, kind) for row, kind in rows]

    # -- the worker's step ----------------------------------------------------------------

    def deliver_due(self, post: Poster, now: dt.datetime | None = None) -> int:
        """Post every webhook's due head delivery (and the ones after it while they
        succeed) with `post`; record each attempt. Returns how many attempts were made."""
        with self.db.session() as session:
            hook_ids = list(session.scalars(select(HookRow.id).order_by(HookRow.id)))
        made = 0
        for hook_id in hook_ids:
            made += self._deliver_hook(hook_id, post, now)
        return made

    def _deliver_hook(self, hook_id: int, post: Poster, now: dt.datetime | None) -> int:
        """Post the webhook's head deliveries while they are due and succeed. Each is
        claimed in a short transaction (its next attempt pushed past a lease, so no other
        server takes it), posted with no transaction open, then recorded: a publish never
        waits for a receiver, and SQLite never holds a read snapshot across a POST."""
        made = 0
        while True:
            with self.db.session() as session:
                # NO KEY UPDATE: a publish adding a delivery (a foreign key to this row)
                # is not blocked; SKIP LOCKED: another server claiming this webhook is
                hook = session.scalar(
                    select(HookRow)
                    .where(HookRow.id == hook_id)
                    .with_for_update(skip_locked=True, key_share=True)
                )
                if hook is None:  # removed, or another server is claiming for it
                    return made
                head = session.execute(
                    select(DeliveryRow, EventRow)
                    .join(EventRow, EventRow.id == DeliveryRow.event)
                    .where(DeliveryRow.hook == hook_id, DeliveryRow.state == "pending")
                    .order_by(DeliveryRow.event)
                    .limit(1)
                ).first()
                if head is None:
                    return made
                delivery, event = head
                moment = now or utcnow()
                if delivery.expires <= moment:
                    delivery.state, delivery.finished = "expired", moment
                    continue
                if delivery.next_attempt > moment or _waits_for_index(session, event):
                    return made
                delivery.next_attempt = moment + LEASE
                url, secret, claimed = hook.url, hook.secret, delivery.id
                sent, header = event_from_row(event), delivery_id(event.id, hook_id)
            attempt = post(url, secret, sent, header)
            made += 1
            with self.db.session() as session:
                answered = session.get(DeliveryRow, claimed)
                if answered is None:  # the webhook was removed meanwhile
                    return made
                answered.attempts += 1
                answered.last_status = attempt.status
                answered.last_error = attempt.error[:ERROR_LENGTH]
                if attempt.delivered:
                    answered.state, answered.finished = "delivered", utcnow()
                    continue
                answered.next_attempt = utcnow() + retry_delay(answered.attempts)
                return made


def _waits_for_index(session: Session, event: EventRow) -> bool:
    """True while a publish intent says the indexes do not show the event's file yet."""
    if event.path is None:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    PublishIntentRow.channel == event.channel, PublishIntentRow.path == event.path
                )
            )
        )
    )


def _hook(row: HookRow) -> Hook:
    return Hook(row.id, row.url, tuple(row.kinds), row.channel, row.created_by, row.created)


def _delivery(row: DeliveryRow, kind: str) -> Delivery:
    return Delivery(
        row.id,
        row.hook,
        row.event,
        kind,
        row.state,
        row.attempts,
        row.next_attempt,
        row.last_status,
        row.last_error,
        row.finished,
    )
