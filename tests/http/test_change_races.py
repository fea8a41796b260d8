"""A server process learns of changes made by another (a CLI, another server) through stamp
files, and its worker threads must never decide by the old state once a thread has seen a
new stamp: a request that comes while another thread re-reads the bases or the permissions
reads them too. (Seen on PostgreSQL, whose reads are slower: `channel create company/dev
--base …` and at once two requests; one got company/dev served flat.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drawbridge.channel.access import Access
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.bases import Level, touch_stamp
from drawbridge.channel.service import Channels
from drawbridge.server import inherited
from drawbridge.server.inherited import InheritedViews

DEV, BASE = Level("dev"), Level("base")


class SlowSecondCall:
    """Wraps `read`: its second call waits until released (a slow database read)."""

    def __init__(self, read):  # type: ignore[no-untyped-def]
        self.read, self.calls = read, 0
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == 2:
            self.entered.set()
            assert self.release.wait(10)
        return self.read()


def while_another_thread_reads(slow: SlowSecondCall, ask):  # type: ignore[no-untyped-def]
    """What `ask()` answers when called while another thread's call is inside the slow read
    (the slow read is let go once the second call has had time to wait for it)."""
    other = threading.Thread(target=ask)
    other.start()
    answers = []
    try:
        assert slow.entered.wait(10), "the other thread never re-read"
        second = threading.Thread(target=lambda: answers.append(ask()))
        second.start()
        time.sleep(0.2)  # the second call waits for the first one's read (or reads itself)
    finally:
        slow.release.set()
        other.join(10)
    second.join(10)
    return answers[0]


def test_a_request_during_a_reread_of_the_bases_gets_the_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(inherited, "BASES_RECHECK", 0.5)
    channels_dir = tmp_path / "channels"
    current: dict[str, list[Level]] = {}
    slow = SlowSecondCall(lambda: dict(current))
    views = InheritedViews(
        channels_dir,
        tmp_path / "cache",
        slow,
        lambda channel, view: str(tmp_path / channel / view),
        lambda name: None,
        lambda mirror, subdir, name, refresh: None,
    )
    assert views.levels("dev") == [DEV]
    current["dev"] = [BASE]
    touch_stamp(channels_dir)  # what `channel create dev --base base` does after its commit
    time.sleep(0.6)  # past BASES_RECHECK: the next look sees the new stamp
    assert while_another_thread_reads(slow, lambda: views.levels("dev")) == [DEV, BASE]


def test_a_decision_during_a_reload_of_the_permissions_uses_the_new_ones(
    channels: Channels, monkeypatch: pytest.MonkeyPatch
):
    """A thread that sees the new stamp while another thread reads the lists waits for that
    read and decides by its result, which began after the stamp was in place."""
    channels.create("dev")
    Accounts(channels.db).create_user("alice")
    access = Access(channels.home.root, channels.db, anonymous_read=True)
    assert access.permissions("dev").read == ()
    channels.access.set_permissions("dev", read=["user:alice"])  # another process's change
    time.sleep(0.15)  # past STAMP_CHECK_SECONDS: the next look sees the new stamp
    slow = SlowSecondCall(access._read_table)
    monkeypatch.setattr(access, "_read_table", slow)
    slow.calls = 1  # the next read is the slow one
    answers: list[tuple[str, ...]] = []

    def readers() -> None:
        if access.stale():
            access.reload()
        answers.append(access.permissions("dev").read)

    first = threading.Thread(target=readers)
    first.start()
    assert slow.entered.wait(10), "the first thread never re-read"
    second = threading.Thread(target=readers)
    second.start()
    time.sleep(0.2)  # the second thread is waiting for the first one's read
    assert answers == []
    slow.release.set()
    first.join(10)
    second.join(10)
    assert answers == [("user:alice",), ("user:alice",)]
    assert slow.calls == 2  # one read for both


def test_many_requests_at_a_change_read_the_permissions_once(
    channels: Channels, monkeypatch: pytest.MonkeyPatch
):
    """No stampede: 32 threads that all see a new stamp (or the periodic reload) at once
    cause one read of the lists, not 32 (issue 22, item 5)."""
    channels.create("dev")
    Accounts(channels.db).create_user("alice")
    access = Access(channels.home.root, channels.db, anonymous_read=True)
    assert access.permissions("dev").read == ()
    reads = count_reads(access, monkeypatch)

    channels.access.set_permissions("dev", read=["user:alice"])
    time.sleep(0.15)  # past STAMP_CHECK_SECONDS
    assert permissions_asked_at_once(access, 32) == [("user:alice",)] * 32
    assert reads["count"] == 1


def test_many_requests_at_a_change_of_bases_read_them_once(tmp_path: Path):
    """No stampede on the bases either: 32 threads that all see a new bases stamp at once
    cause one read of the bases, and every one of them gets the new ones."""
    channels_dir = tmp_path / "channels"
    current: dict[str, list[Level]] = {}
    reads = {"count": 0}

    def read_bases() -> dict[str, list[Level]]:
        reads["count"] += 1
        time.sleep(0.05)  # a read that takes a while, as on a busy database
        return dict(current)

    views = InheritedViews(
        channels_dir,
        tmp_path / "cache",
        read_bases,
        lambda channel, view: str(tmp_path / channel / view),
        lambda name: None,
        lambda mirror, subdir, name, refresh: None,
    )
    assert views.levels("dev") == [DEV]
    current["dev"] = [BASE]
    touch_stamp(channels_dir)
    time.sleep(inherited.BASES_RECHECK + 0.05)  # the next look sees the new stamp
    start = threading.Barrier(32)
    answers: list[list[Level]] = []

    def request() -> None:
        start.wait(10)
        answers.append(views.levels("dev"))

    threads = [threading.Thread(target=request) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [[DEV, BASE]] * 32
    assert reads["count"] == 2  # the first look, then one read for all 32


def test_a_home_without_a_stamp_reads_the_permissions_once_per_reload(
    channels: Channels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """No stampede where the stamp file cannot be made (a read-only home, say): at the
    periodic reload, 32 threads in flight cause one read of the lists, not one each (issue
    22, item 5: a worker read them about 32 times every 5 s, once per request in flight)."""
    channels.create("dev")
    Accounts(channels.db).create_user("alice")
    read_only = tmp_path / "a-file"  # no stamp can be made below a file
    read_only.write_text("")
    access = Access(read_only, channels.db, anonymous_read=True)
    monkeypatch.setattr(access._lists, "reload_every", 1.0)  # long beside a loaded box's waits
    assert access.permissions("dev").read == ()  # the first read: no stamp can be made
    reads = count_reads(access, monkeypatch)
    channels.access.set_permissions("dev", read=["user:alice"])
    time.sleep(1.05)  # past the periodic reload
    assert permissions_asked_at_once(access, 32) == [("user:alice",)] * 32
    assert reads["count"] == 1


def count_reads(access: Access, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count `access`'s reads of the permission lists (each made to take 50 ms, as on a busy
    database) in the dict returned."""
    reads = {"count": 0}
    read_table = access._read_table

    def counted():  # type: ignore[no-untyped-def]
        reads["count"] += 1
        time.sleep(0.05)
        return read_table()

    monkeypatch.setattr(access, "_read_table", counted)
    return reads


def permissions_asked_at_once(access: Access, requests: int) -> list[tuple[str, ...]]:
    """What `requests` threads released together, each reloading if it finds the
    permissions stale (as a server worker does per request), read of channel dev."""
    start = threading.Barrier(requests)
    answers: list[tuple[str, ...]] = []

    def request() -> None:
        start.wait(10)
        if access.stale():
            access.reload()
        answers.append(access.permissions("dev").read)

    threads = [threading.Thread(target=request) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers
