"""The exclusive locks a home's writers hold: lock files on one box (SQLite), PostgreSQL
advisory locks when several servers on several machines share one database and one store.

Every lock has a name that is the same in every process (`channel main`, `webhooks`) and a
file where one box keeps it (`channels/main/.lock`). `Database.locks` is the one choice:

- `FileLocks` (SQLite, one home on one box): `flock` on the file; the kernel releases it
  when its holder dies.
- `AdvisoryLocks` (PostgreSQL): `pg_advisory_lock` on a 64-bit key hashed from the
  database schema and the name, held on a connection of its own (session-level, outside
  any transaction), so a holder that is killed loses its connection and PostgreSQL
  releases its lock; the connection asks the server to probe it with TCP keepalives, so a
  holder whose machine vanished is noticed too. A lock file on a shared folder (NFS) would
  not do: `flock` over NFS is emulated, when at all, and a dead client's lock lingers.

Callers never ask which one they have: `locks.channel(layout)` around a channel's writes,
`locks.try_hold(name, file)` for a role one process of the home plays at a time.
"""

from __future__ import annotations

import fcntl
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from drawbridge.channel.layout import ChannelLayout

#: how soon PostgreSQL probes a lock holder's silent connection, and gives up on it (s)
KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class Held:
    """A lock taken by `try_hold`, kept until `release` (or its holder's death)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class Locks(ABC):
    """Named exclusive locks shared by every process (and, on PostgreSQL, every machine)
    of one home."""

    @abstractmethod
    def hold(self, name: str, file: Path) -> AbstractContextManager[None]:
        """Wait for lock `name` (kept in `file` on one box) and hold it for the block."""

    @abstractmethod
    def hold_shared(self, name: str, file: Path) -> AbstractContextManager[None]:
        """Wait until nobody holds lock `name` exclusively, and share it for the block."""

    @abstractmethod
    def try_hold(self, name: str, file: Path) -> Held | None:
        """Take lock `name` if nobody holds it, and keep it until `Held.release`; None if
        another holder has it."""

    def close(self) -> None:
        """Let go of what the locks keep open (nothing for files)."""

    def channel(self, layout: ChannelLayout) -> AbstractContextManager[None]:
        """The lock every writer of a channel's files, records and indexes holds."""
        layout.root.mkdir(parents=True, exist_ok=True)
        return self.hold(f"channel {layout.name}", layout.root / ".lock")

    def batch(self, layout: ChannelLayout) -> AbstractContextManager[None]:
        """Shared by each publish of many files into a channel for its whole run: between
        its files it leaves recorded, not yet indexed files (intents) that are not a
        crash's."""
        layout.root.mkdir(parents=True, exist_ok=True)
        return self.hold_shared(f"batches {layout.name}", layout.root / ".lock-batches")

    def no_batch(self, layout: ChannelLayout) -> Held | None:
        """The batches lock of a channel taken exclusively if no batch is under way (so
        none starts until `Held.release`), else None."""
        layout.root.mkdir(parents=True, exist_ok=True)
        return self.try_hold(f"batches {layout.name}", layout.root / ".lock-batches")


class FileLocks(Locks):
    """`flock` on a file per lock: every process of one box (SQLite's homes)."""

    def hold(self, name: str, file: Path) -> AbstractContextManager[None]:
        return self._hold(file, fcntl.LOCK_EX)

    def hold_shared(self, name: str, file: Path) -> AbstractContextManager[None]:
        return self._hold(file, fcntl.LOCK_SH)

    @contextmanager
    def _hold(self, file: Path, mode: int) -> Iterator[None]:
        with file.open("a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def try_hold(self, name: str, file: Path) -> Held | None:
        handle: TextIO = file.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return Held(handle.close)


def _keepalives(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Ask PostgreSQL to probe a lock connection that goes silent (ignored on a Unix
    socket), once per connection the pool opens."""
    cursor = connection.cursor()
    for setting, value in KEEPALIVES.items():
        cursor.execute(f"SET {setting} = {value}")
    cursor.close()
    connection.commit()


class AdvisoryLocks(Locks):
    """PostgreSQL session-level advisory locks, each held on a connection of its own from a
    pool apart from the sessions' (a wait for a lock never takes a session's connection)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=-1,  # one connection per lock held or awaited, however many
            isolation_level="AUTOCOMMIT",  # no transaction (and no snapshot) kept open
        )
        self._schema: str | None = None
        event.listen(self.engine, "connect", _keepalives)

    def key(self, connection: Connection, name: str) -> int:
        """Lock `name`'s key: homes sharing a database in different schemas never meet."""
        if self._schema is None:
            self._schema = str(connection.scalar(text("SELECT current_schema()")))
        digest = hashlib.blake2b(f"{self._schema}\0{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _connect(self) -> Connection:
        return self.engine.connect()

    def _unlock(self, connection: Connection, key: int, shared: bool = False) -> None:
        unlock = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        try:
            connection.execute(text(f"SELECT {unlock}(:key)"), {"key": key})
        except Exception:
            connection.invalidate()  # a lost connection: PostgreSQL released the lock
        finally:
            connection.close()

    def hold(self, name: str, file: Path) -> AbstractContextManager[None]:
        return self._hold(name, shared=False)

    def hold_shared(self, name: str, file: Path) -> AbstractContextManager[None]:
        return self._hold(name, shared=True)

    @contextmanager
    def _hold(self, name: str, shared: bool) -> Iterator[None]:
        lock = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        connection = self._connect()
        try:
            key = self.key(connection, name)
            connection.execute(text(f"SELECT {lock}(:key)"), {"key": key})
        except BaseException:
            connection.invalidate()  # interrupted while waiting: the lock may be granted
            connection.close()
            raise
        try:
            yield
        finally:
            self._unlock(connection, key, shared)

    def try_hold(self, name: str, file: Path) -> Held | None:
        connection = self._connect()
        try:
            key = self.key(connection, name)
            taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        except BaseException:
            connection.invalidate()
            connection.close()
            raise
        if not taken:
            connection.close()
            return None
        return Held(lambda: self._unlock(connection, key))

    def close(self) -> None:
        self.engine.dispose()
