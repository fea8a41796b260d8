"""Changes one server made, told to every server through PostgreSQL: `announce` sends a
NOTIFY once the change is committed (and its stamp file renewed), and a `Listener` thread in
each server process LISTENs and counts them per topic; `channel.stamps` reads its state
again when the count moved.

The stamp files stay the signal on one box and with SQLite. This one needs no shared
filesystem, so a server whose NFS client still shows the old stamp (attribute caching)
learns of a change at once. A notification can be missed only while the listener's
connection is down: when it is back, every count moves, so everything is read again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from drawbridge.channel.database import Database

log = logging.getLogger("drawbridge")
#: what a change may be about: the permissions (and the channels), the bases
Topic = Literal["permissions", "bases"]
TOPICS: tuple[Topic, ...] = ("permissions", "bases")
#: the PostgreSQL notification channel; the payload is "<schema> <topic>"
CHANNEL = "drawbridge_changes"
#: how long the listener waits for a notification before looking at its stop flag (s)
WAIT_SECONDS = 0.5


def shared(database: Database) -> bool:
    """Whether servers may share `database` from several machines (PostgreSQL, writable)."""
    return database.engine.dialect.name == "postgresql" and not database.replica_of


def announce(database: Database, topic: Topic) -> None:
    """Tell every server listening on `database` that `topic` changed (nothing on SQLite
    or a replica; a failure is logged: the stamps and the periodic reload still tell)."""
    if not shared(database):
        return
    try:
        with database.engine.connect() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, current_schema() || ' ' || :topic)"),
                {"channel": CHANNEL, "topic": topic},
            )
            connection.commit()
    except SQLAlchemyError as error:
        log.warning("could not tell the other servers that the %s changed: %s", topic, error)


class Listener:
    """A thread LISTENing for `announce`'s notifications on one database (a connection of
    its own), counting them per topic; `count(topic)` gives a function reading the count."""

    def __init__(self, database: Database) -> None:
        self._engine = create_engine(database.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._counts: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drawbridge-changes", daemon=True)

    def count(self, topic: Topic) -> Callable[[], int]:
        return lambda: self._counts[topic]

    def start(self) -> Listener:
        self._thread.start()
        return self

    def wait_listening(self, timeout: float) -> bool:
        """Whether the listener is connected and listening (waiting up to `timeout` s)."""
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(WAIT_SECONDS * 4 + 5)
        self._engine.dispose()

    def _run(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                with self._engine.connect() as connection:
                    connection.execute(text(f"LISTEN {CHANNEL}"))
                    schema = str(connection.scalar(text("SELECT current_schema()")))
                    if not first:  # notifications may have been missed: read all again
                        self._counts.update(TOPICS)
                    first = False
                    self._listening.set()
                    driver = connection.connection.driver_connection
                    while not self._stopping.is_set():
                        for note in driver.notifies(timeout=WAIT_SECONDS):  # type: ignore[union-attr]
                            where, _, topic = note.payload.partition(" ")
                            if where == schema and topic in TOPICS:
                                self._counts[topic] += 1
            except Exception as error:  # the database away: listen again once it is back
                self._listening.clear()
                log.warning("listening for other servers' changes: %s; trying again", error)
                self._stopping.wait(1)
