"""The event outbox: every change writes its event in its own transaction, in order; a
publish undone writes none; deliveries are queued with the event for the webhooks that
want it, and go out in event order once the indexes show the file."""

from __future__ import annotations

import datetime as dt
import errno
import threading
import time
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_wheel
from sqlalchemy import select, update

from drawbridge.channel import pip_view
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.errors import StorageFailure
from drawbridge.channel.events import (
    DELIVERY_LIFETIME,
    Event,
    UnknownEventKind,
    events_since,
    Pruned,
    newest_event_id,
    prune_outbox,
)
from drawbridge.channel.hooks import Attempt, Hooks, InvalidHook, retry_delay
from drawbridge.channel.mutability import Mutability
from drawbridge.channel.database import utcnow
from drawbridge.channel.outbox import DeliveryRow, EventRow
from drawbridge.channel.releases import ReleaseSpec
from drawbridge.channel.service import Channels
from drawbridge.server.webhooks import DeliveryWorker


def kinds_since(channels: Channels, after: int) -> list[tuple[str, str, str]]:
    with channels.db.session() as session:
        return [(e.kind, e.channel, e.subject) for e in events_since(session, after)]


def newest(channels: Channels) -> int:
    with channels.db.session() as session:
        return newest_event_id(session)


def test_each_change_writes_its_event_in_order(channels: Channels, tmp_path: Path):
    start = newest(channels)
    wheel = make_wheel(tmp_path, "demo", "1.0")
    package = make_conda_tar_bz2(tmp_path, "demo-conda", "1.0")
    channels.publish("main", wheel)
    channels.publish("main", package)
    channels.publish("main", wheel)  # the same bytes again: nothing changed, no event
    channels.yank("main", wheel.name, "broken")
    channels.yank("main", wheel.name, undo=True)
    channels.create("staging", mutability=Mutability.volatile)
    channels.set_bases("staging", ["main"])
    Accounts(channels.db).create_user("alice")
    channels.access.set_permissions("staging", read=["user:alice"])
    channels.access.set_owner("main", "demo", "user:alice")
    channels.promote(
        "main", "staging", channels.release_rows("main", [ReleaseSpec("demo")]), False, "ci", ""
    )
    channels.delete("staging", channels.release_rows("staging", [ReleaseSpec("demo")]))
    channels.create("prod")
    moved = channels.release_rows("main", [ReleaseSpec("demo")])
    channels.promote("main", "prod", moved, True, "ci", "")
    channels.set_mutability("prod", Mutability.immutable)

    assert kinds_since(channels, start) == [
        ("published", "main", wheel.name),
        ("published", "main", package.name),
        ("yanked", "main", wheel.name),
        ("unyanked", "main", wheel.name),
        ("channel-created", "staging", "staging"),
        ("channel-bases", "staging", "staging"),
        ("channel-permissions", "staging", "staging"),
        ("project-owner", "main", "demo"),
        ("promoted", "staging", wheel.name),
        ("deleted", "staging", wheel.name),
        ("channel-created", "prod", "prod"),
        ("promoted", "prod", wheel.name),
        ("moved", "main", wheel.name),
        ("channel-mutability", "prod", "prod"),
    ]
    with channels.db.session() as session:
        events = events_since(session, start)
    published = events[0].payload
    assert published["sha256"] == channels.project_files("prod", "demo")[0].sha256
    assert (published["view"], published["project"], published["version"]) == (
        "pypi",
        "demo",
        "1.0",
    )
    assert events[1].payload["subdir"] == "noarch"
    assert events[11].payload["source"] == "main" and events[12].payload["target"] == "prod"
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_a_publish_undone_leaves_no_event_nor_delivery(
    channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The file was recorded (with its event) when the pages failed: unpublished again, its
    event goes with its record, so no receiver ever hears of a file that never was."""
    Hooks(channels.db).add("http://127.0.0.1:9/", ["published"])
    start = newest(channels)
    real_write = pip_view.write_files_atomic

    def failing(files: dict[Path, bytes]) -> None:
        if any("late" in str(path) for path in files):
            raise OSError(errno.EIO, "Input/output error")
        real_write(files)

    monkeypatch.setattr(pip_view, "write_files_atomic", failing)
    with pytest.raises(StorageFailure):
        channels.publish("main", make_wheel(tmp_path, "late", "1.0"))
    assert kinds_since(channels, start) == []
    with channels.db.session() as session:
        assert session.scalars(select(DeliveryRow)).all() == []


def test_deliveries_go_in_event_order_and_retry_with_back_off(channels: Channels, tmp_path: Path):
    hooks = Hooks(channels.db)
    with pytest.raises(InvalidHook, match="http:// or https://"):
        hooks.add("ftp://ci.example/", ["published"])
    with pytest.raises(UnknownEventKind, match="choose from published"):
        hooks.add("http://ci.example/", ["uploaded"])
    with pytest.raises(InvalidHook, match="no channel 'nowhere'"):
        hooks.add("http://ci.example/", ["published"], channel="nowhere")
    everything, secret = hooks.add("http://ci.example/all", ["published", "yanked"])
    assert len(secret) == 64  # made for it, shown this once
    staging_only, _ = hooks.add("http://ci.example/staging", ["published"], "", "s3cret")
    channels.create("staging")
    hooks.remove(staging_only.id)
    narrow, _ = hooks.add("http://ci.example/staging", ["published"], "staging", "s3cret")

    first, second = make_wheel(tmp_path, "one", "1.0"), make_wheel(tmp_path, "two", "1.0")
    channels.publish("main", first)
    channels.publish("main", second)
    channels.yank("main", first.name)
    channels.publish("staging", first)
    sent: list[tuple[str, str, int, str]] = []
    answers = iter([Attempt(None, "ConnectError: refused")])

    def post(url: str, secret: str, event: Event, delivery: str) -> Attempt:
        sent.append((url, event.kind, event.id, delivery))
        return next(answers, Attempt(204))

    assert hooks.deliver_due(post) == 2  # the first failed: everything's later ones wait
    assert [s[0] for s in sent] == ["http://ci.example/all", "http://ci.example/staging"]
    failed = [d for d in hooks.deliveries(everything.id) if d.attempts][0]
    assert (failed.state, failed.last_error) == ("pending", "ConnectError: refused")
    # not due yet (asked as of just before it is: a loaded machine took over a second here)
    assert hooks.deliver_due(post, now=failed.next_attempt - dt.timedelta(milliseconds=1)) == 0
    later = failed.next_attempt + retry_delay(1)
    assert hooks.deliver_due(post, now=later) == 4
    by_hook = [(url, kind) for url, kind, _, _ in sent]
    assert by_hook == [
        ("http://ci.example/all", "published"),
        ("http://ci.example/staging", "published"),
        ("http://ci.example/all", "published"),
        ("http://ci.example/all", "published"),
        ("http://ci.example/all", "yanked"),
        ("http://ci.example/all", "published"),
    ]
    to_all = [event for url, _, event, _ in sent if url.endswith("/all")]
    assert to_all[0] == to_all[1] and to_all[1:] == sorted(to_all[1:])  # retried, then in order
    assert {d.state for d in hooks.deliveries()} == {"delivered"}
    assert [d.header_id for d in hooks.deliveries(narrow.id)] == [sent[1][3]]


def test_retry_delays_double_with_jitter_up_to_an_hour():
    for attempts, low, high in [(1, 0.5, 1), (2, 1, 2), (5, 8, 16), (40, 1800, 3600)]:
        delays = [retry_delay(attempts).total_seconds() for _ in range(50)]
        assert low <= min(delays) and max(delays) <= high and len(set(delays)) > 1


def test_a_file_event_waits_until_the_indexes_show_the_file(channels: Channels, tmp_path: Path):
    """A receiver told of a file finds it: recorded but not indexed yet (its publish intent
    still there), its event is not posted."""
    hooks = Hooks(channels.db)
    hooks.add("http://ci.example/", ["published"])
    sent: list[str] = []

    def post(url: str, secret: str, event: Event, delivery: str) -> Attempt:
        sent.append(event.subject)
        return Attempt(200)

    wheel = make_wheel(tmp_path, "slow", "1.0")
    published = channels.publish("main", wheel, index=False)
    assert hooks.deliver_due(post) == 0 and sent == []
    channels.refresh("main", [published])
    assert hooks.deliver_due(post) == 1 and sent == [wheel.name]


def test_a_publish_never_waits_for_a_slow_receiver(channels: Channels, tmp_path: Path):
    """While a delivery is being posted (the receiver answers slowly), a publish (which
    adds a delivery for the same webhook) goes through, and both deliveries are recorded."""
    hooks = Hooks(channels.db)
    hooks.add("http://slow.example/", ["published"])
    channels.publish("main", make_wheel(tmp_path, "first", "1.0"))
    posting, answer = threading.Event(), threading.Event()

    def slow(url: str, secret: str, event: Event, delivery: str) -> Attempt:
        posting.set()
        answer.wait(20)
        return Attempt(204)

    worker = threading.Thread(target=hooks.deliver_due, args=(slow,))
    worker.start()
    try:
        assert posting.wait(10)
        started = time.monotonic()
        channels.publish("main", make_wheel(tmp_path, "second", "1.0"))
        assert time.monotonic() - started < 5
    finally:
        answer.set()
        worker.join(30)
    hooks.deliver_due(lambda *_: Attempt(204))  # the second, unless the worker took it
    assert [d.state for d in hooks.deliveries()] == ["delivered", "delivered"]


def test_deliveries_never_answered_expire_after_their_lifetime(channels: Channels, tmp_path: Path):
    hooks = Hooks(channels.db)
    hook, _ = hooks.add("http://gone.example/", ["published"])
    channels.publish("main", make_wheel(tmp_path, "old", "1.0"))
    channels.publish("main", make_wheel(tmp_path, "new", "1.0"))
    assert hooks.deliver_due(lambda *_: Attempt(503, "HTTP 503: down")) == 1
    [first] = [d for d in hooks.deliveries(hook.id) if d.attempts]
    later = first.next_attempt + DELIVERY_LIFETIME
    sent: list[str] = []

    def post(url: str, secret: str, event: Event, delivery: str) -> Attempt:
        sent.append(event.subject)
        return Attempt(200)

    assert hooks.deliver_due(post, now=later) == 0  # the second is as old: both expired
    assert [d.state for d in hooks.deliveries(hook.id)] == ["expired", "expired"]
    assert sent == []


def aged(channels: Channels, days: int) -> None:
    """Every event recorded, and every delivery finished, `days` ago."""
    then = utcnow() - dt.timedelta(days=days)
    with channels.db.session() as session:
        session.execute(update(EventRow).values(created=then))
        session.execute(
            update(DeliveryRow).where(DeliveryRow.state != "pending").values(finished=then)
        )


def event_ids(channels: Channels) -> list[int]:
    with channels.db.session() as session:
        return list(session.scalars(select(EventRow.id).order_by(EventRow.id)))


def test_the_outbox_forgets_old_events_but_not_what_is_owed_nor_the_newest(
    channels: Channels, tmp_path: Path
):
    hooks = Hooks(channels.db)
    hook, _ = hooks.add("http://ci.example/", ["published"])
    for name in ("one", "two", "three", "four"):
        channels.publish("main", make_wheel(tmp_path, name, "1.0"))
    answers = iter([Attempt(200), Attempt(200), Attempt(503, "HTTP 503: down")])
    assert hooks.deliver_due(lambda *_: next(answers)) == 3  # two delivered, "three" failed
    channels.create("staging")  # the newest event, which no webhook wants
    before = event_ids(channels)
    aged(channels, days=31)
    a_month = utcnow() - dt.timedelta(days=30)

    pruned = prune_outbox(channels.db, a_month, batch=2)  # two rows a transaction

    with channels.db.session() as session:
        kept = session.execute(select(EventRow.kind, EventRow.subject).order_by(EventRow.id))
        assert list(kept) == [
            ("published", "three-1.0-py3-none-any.whl"),  # still owed to the webhook
            ("published", "four-1.0-py3-none-any.whl"),
            ("channel-created", "staging"),  # the newest: ids must keep rising
        ]
    assert pruned == Pruned(events=len(before) - 3, deliveries=2)
    assert [d.state for d in hooks.deliveries(hook.id)] == ["pending", "pending"]

    channels.publish("main", make_wheel(tmp_path, "recent", "1.0"))
    assert prune_outbox(channels.db, a_month) == Pruned(events=1, deliveries=0)
    assert event_ids(channels)[-2:] == [before[-2], before[-1] + 1]  # "four", "recent"
    aged(channels, days=31)
    assert prune_outbox(channels.db, a_month) == Pruned(events=0, deliveries=0)
    channels.create("prod")  # SQLite would give "recent"'s id again, had it gone
    assert event_ids(channels)[-1] > before[-1] + 1


def test_the_delivery_worker_prunes_the_outbox_as_it_starts(channels: Channels, tmp_path: Path):
    for name in ("one", "two"):
        channels.publish("main", make_wheel(tmp_path, name, "1.0"))
    aged(channels, days=channels.home.server.outbox_keep_days + 1)
    channels.create("staging")
    worker = DeliveryWorker(channels.home, poll_seconds=0.05).start()
    try:
        deadline = time.monotonic() + 30
        while len(event_ids(channels)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    with channels.db.session() as session:
        assert list(session.scalars(select(EventRow.subject))) == ["staging"]
