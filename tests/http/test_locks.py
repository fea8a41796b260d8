"""The home's locks (`channel.locks`), on this run's database: lock files with SQLite,
PostgreSQL advisory locks in the PostgreSQL pass. Two holders exclude each other, in one
process or two, and a holder that is killed lets go of its lock (its file closed by the
kernel, its connection dropped by PostgreSQL), so a server killed mid-publish never blocks
the others."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from databases import MODE

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home
from drawbridge.channel.locks import AdvisoryLocks, FileLocks

#: a process that takes the channel lock of `main`, says so, and sleeps until killed
HOLDER = """
import sys, time
from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
home = load_home(sys.argv[1])
database = Database(home.database_url)
with database.locks.channel(home.channel("main")):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_database_says_which_locks(home: Home):
    database = Database(home.database_url)
    try:
        expected = AdvisoryLocks if MODE == "postgresql" else FileLocks
        assert type(database.locks) is expected
    finally:
        database.close()


def test_two_holders_exclude_each_other(home: Home):
    first, second = Database(home.database_url), Database(home.database_url)
    layout = home.channel("main")
    file = layout.root / ".lock"
    try:
        events: list[str] = []

        def wait_for_it() -> None:
            with second.locks.channel(layout):
                events.append("got")

        with first.locks.channel(layout):
            assert second.locks.try_hold(f"channel {layout.name}", file) is None
            waiter = threading.Thread(target=wait_for_it)
            waiter.start()
            time.sleep(0.3)
            assert events == []  # still waiting for the first holder
            events.append("released")
        waiter.join(10)
        assert events == ["released", "got"]
    finally:
        first.close()
        second.close()


@pytest.mark.database
def test_a_killed_holder_releases_its_lock(home: Home):
    database = Database(home.database_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lock = ("channel main", home.channel("main").root / ".lock")
        assert database.locks.try_hold(*lock) is None
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 10
        while (held := database.locks.try_hold(*lock)) is None:
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.05)
        held.release()
        with database.locks.channel(home.channel("main")):
            pass  # and a blocking holder gets it too
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        database.close()
