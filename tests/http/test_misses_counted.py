"""What the miss counter counts, in-process: a 404 of a project page, never a hit, never a
channel the asker may not read, never who asked."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from builders import make_wheel
from databases import new_home
from servers import AppClient, fastapi_app
from sqlalchemy.exc import OperationalError

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.database import Database
from drawbridge.channel.misses import most_wanted, record_misses
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token
import drawbridge.server.asgi.misses as misses_layer
from drawbridge.server.asgi.misses import MissCounter


def wait_for_counts(database: Database, counts: list[int], seconds: float = 10) -> None:
    """Poll until the written counts are `counts` or `seconds` pass (the caller asserts)."""
    deadline = time.monotonic() + seconds
    while [m.count for m in most_wanted(database)] != counts and time.monotonic() < deadline:
        time.sleep(0.05)


def test_only_misses_of_readable_channels_are_counted_and_no_asker(tmp_path: Path):
    home = new_home(tmp_path / "home")
    channels = Channels(home, Database(home.database_url))
    Accounts(channels.db).create_user("ann")
    channels.create("main")
    channels.create("secret", permissions=ChannelPermissions(read=("user:ann",)))
    channels.publish("main", make_wheel(tmp_path, "present", "1.0"))
    token = create_token(channels.db, "ann", Role.reader)
    with AppClient(home) as app:
        for path in (
            "/main/simple/absent/",
            "/simple/absent/",
            "/main/pypi/absent/json",
            "/secret/simple/absent/",
            "/main/simple/present/",
            "/main/simple/Absent/",
        ):
            app.get(path)
        app.get("/secret/simple/hidden-one/", headers={"Authorization": f"Bearer {token}"})
        fastapi_app(app).state.context.misses.flush()
    counted = {(m.channel, m.project, m.count) for m in most_wanted(channels.db)}
    # /simple/ is main's alias; the anonymous 404 of `secret` is the gate's, not a miss; a
    # name not normalised is redirected (pip follows, and misses the normalised URL)
    assert counted == {("main", "absent", 3), ("secret", "hidden-one", 1)}
    columns = set(most_wanted(channels.db)[0].__table__.columns.keys())
    assert columns == {"channel", "project", "count", "first_seen", "last_seen"}


def test_workers_flushing_the_same_miss_at_once_add_up_and_one_is_first(tmp_path: Path):
    """Each worker of a server flushes its own counts: eight at once, for a project none
    had counted, make one row with every miss and exactly one "first" (which files the
    bridging request); before, all but one failed on the unique key (seen as a traceback
    at shutdown of a real two-worker server)."""
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    start = threading.Barrier(8)
    firsts: list[list[tuple[str, str]]] = []
    failures: list[BaseException] = []

    def flush() -> None:
        database = Database(home.database_url)
        try:
            start.wait()
            firsts.append(record_misses(database, {("main", "wanted"): 3}))
        except BaseException as error:  # noqa: BLE001  (every failure is the finding)
            failures.append(error)
        finally:
            database.close()

    workers = [threading.Thread(target=flush) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert sorted(len(f) for f in firsts) == [0] * 7 + [1]
    (row,) = most_wanted(Database(home.database_url))
    assert (row.project, row.count) == ("wanted", 24)


def test_a_miss_noted_while_the_counts_are_written_is_written_too(tmp_path: Path):
    """A miss that arrives while the writer is writing (here: while `on_first` files the
    first miss's request, which takes long on a slow machine) is written by the writer's
    next round. Before, the writer was still alive, so no new one started, and it then
    ended: the miss stayed in memory until the next one (CI counted 4 misses of 5)."""
    home = new_home(tmp_path / "home")
    database = Database(home.database_url)
    Channels(home, database).create("main")
    in_first, go_on = threading.Event(), threading.Event()

    def slow_first(channel: str, project: str) -> None:
        in_first.set()
        assert go_on.wait(10)

    counter = MissCounter(database, on_first=slow_first, every=0.05)
    counter.note("main", "wanted")
    assert in_first.wait(10)
    counter.note("main", "wanted")  # the writer is inside on_first
    go_on.set()
    wait_for_counts(database, [2])
    assert [(m.project, m.count) for m in most_wanted(database)] == [("wanted", 2)]


def test_a_failed_write_of_the_counts_keeps_them_for_the_next(tmp_path: Path, monkeypatch):
    """A write that fails (here the database's first answer is an error) loses no miss and
    does not stop the writer: the next round writes them, and later misses are written."""
    home = new_home(tmp_path / "home")
    database = Database(home.database_url)
    Channels(home, database).create("main")
    failures = ["database is locked"]

    def failing_once(database: Database, counts):  # type: ignore[no-untyped-def]
        if failures:
            raise OperationalError("INSERT INTO misses", {}, Exception(failures.pop()))
        return record_misses(database, counts)

    monkeypatch.setattr(misses_layer, "record_misses", failing_once)
    counter = MissCounter(database, every=0.05)
    counter.note("main", "wanted")
    counter.note("main", "wanted")
    wait_for_counts(database, [2])
    assert failures == []
    assert [(m.project, m.count) for m in most_wanted(database)] == [("wanted", 2)]
    counter.note("main", "wanted")
    wait_for_counts(database, [3])
    assert [(m.project, m.count) for m in most_wanted(database)] == [("wanted", 3)]
