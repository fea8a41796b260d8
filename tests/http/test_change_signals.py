"""A change made by one server reaches a server on another machine through the database
(`channel.changes`: PostgreSQL NOTIFY, a listener per server process), not only through
the stamp files: here the second "machine" has stamps of its own that nobody renews (an
NFS client still showing the old ones), and must still see the change within a quarter
second, long before its 5-second reload."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from databases import MODE

from drawbridge.channel.access import Access
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.bases import Level
from drawbridge.channel.changes import Listener
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.server.inherited import InheritedViews

pytestmark = pytest.mark.skipif(
    MODE != "postgresql", reason="NOTIFY is PostgreSQL's: SQLite homes are one box's"
)
#: how soon the other server must act on a change (the stamps' own bound on one box)
QUARTER = 0.25


def within(seconds: float, check: Callable[[], bool]) -> float:
    """How long `check()` took to hold (it must within `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "the other server never saw the change"
        time.sleep(0.01)
    return time.monotonic() - started


def test_a_change_reaches_a_server_whose_stamps_do_not_move(channels: Channels, tmp_path: Path):
    channels.create("dev")
    channels.create("base")
    Accounts(channels.db).create_user("alice")
    other = Database(channels.home.database_url)  # the other machine's connections
    listener = Listener(other).start()
    try:
        assert listener.wait_listening(10)
        access = Access(tmp_path / "other-machine", other, anonymous_read=True)
        access.watch(listener.count("permissions"))
        views = InheritedViews(
            tmp_path / "other-machine" / "channels",
            tmp_path / "cache",
            lambda: Channels(channels.home, other).bases(),
            lambda channel, view: str(tmp_path / channel / view),
            lambda name: None,
            lambda mirror, subdir, name, refresh: None,
        )
        views.watch_bases(listener.count("bases"))
        assert access.permissions("dev").read == ()
        assert views.levels("dev") == [Level("dev")]

        def sees_permissions() -> bool:
            if access.stale():
                access.reload()
            return access.permissions("dev").read == ("user:alice",)

        channels.access.set_permissions("dev", read=["user:alice"])
        assert within(QUARTER, sees_permissions) < QUARTER
        channels.set_bases("dev", ["base"])
        assert within(QUARTER, lambda: views.levels("dev") == [Level("dev"), Level("base")])
    finally:
        listener.stop()
        other.close()


def test_a_change_costs_a_watching_server_one_read(channels: Channels, tmp_path: Path):
    """A server on the home's own folder sees both the stamp and the notification of a
    change: it reads the permissions once for it, not once for each (issue 22, item 5),
    and not every 5 s while nothing changes."""
    channels.create("dev")
    Accounts(channels.db).create_user("alice")
    other = Database(channels.home.database_url)
    listener = Listener(other).start()
    try:
        assert listener.wait_listening(10)
        access = Access(channels.home.root, other, anonymous_read=True)
        access._lists.reload_every = 0.3  # the periodic read, shortened: watching ends it
        access.watch(listener.count("permissions"))
        assert access.permissions("dev").read == ()
        reads = {"count": 0}
        read_table = access._read_table

        def counted():  # type: ignore[no-untyped-def]
            reads["count"] += 1
            return read_table()

        access._read_table = counted  # type: ignore[method-assign]

        def requests_for(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if access.stale():
                    access.reload()
                time.sleep(0.005)

        channels.access.set_permissions("dev", read=["user:alice"])
        requests_for(1.0)
        assert access.permissions("dev").read == ("user:alice",)
        assert reads["count"] == 1
    finally:
        listener.stop()
        other.close()
