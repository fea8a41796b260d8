"""State read from the database and kept in memory until a stamp file says it changed.

A process that changes the state commits first, then renames a new stamp file into place
(`renew`: its inode changes), so a process that sees a new stamp knows the database
already holds the change. Each process looks at the stamp (one `stat`) at most every
`check_every` seconds, and may read again after `reload_every` seconds anyway (a change
made on another machine sharing the database but not the disk).

Two rules keep a process's threads from deciding by old state once one of them has seen
a new stamp:

- `stale` does not mark the stamp as looked at while it differs from the one read with
  the state: until some thread has read again, every thread that looks sees the change.
- `reload` is single-flight: a thread that finds another reading waits for it, and uses
  what it read if that read began after the stamp this thread saw was in place; so a
  change costs one read however many threads see it at once.

`Access` (the permissions, `<home>/permissions.stamp`) and the server's merged views (the
bases, `channels/.bases`) both keep their state this way. A server sharing its database
with servers on other machines also `watch`es a count of the database's notifications
(`channel.changes`): when it moves, the state is read again as when the stamp changes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Generic, TypeVar

from drawbridge.channel.storage import write_bytes_atomic

T = TypeVar("T")
#: a file's (inode, size, mtime_ns): a rename into place changes the inode
Signature = tuple[int, int, int]


def _NO_SIGNAL() -> int:
    return 0


def signature(path: str) -> Signature | None:
    """`path`'s (inode, size, mtime_ns), or None if there is no such file."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def renew(path: Path) -> None:
    """Rename a new stamp file into place at `path`: call it once the change is committed."""
    write_bytes_atomic(path, str(time.time_ns()).encode())


class Stamped(Generic[T]):
    """A value made by `read(stamp)` (given the stamp's signature as it was just before the
    read), kept until the stamp file at `stamp` changes; `initial` until the first read.

    `make_stamp`: a missing stamp file is made on a read (a `stat` that finds a file is
    cheaper than one that raises; a read-only home leaves it missing).
    """

    def __init__(
        self,
        stamp: Path,
        read: Callable[[Signature | None], T],
        initial: T,
        check_every: float,
        reload_every: float | None = None,
        make_stamp: bool = False,
    ) -> None:
        self._file = stamp
        self._path = str(stamp)
        self._read = read
        self._value = initial
        self.check_every = check_every
        self.reload_every = reload_every
        self._make_stamp = make_stamp
        self._loaded: tuple[float, Signature | None] | None = None  # (monotonic time, stamp)
        self._signal: Callable[[], int] = _NO_SIGNAL
        self._signalled = 0  # the signal's count when the value was read
        self._watched = False
        self._checked = 0.0  # when `stale` last found the stamp unchanged (monotonic)
        self._reading = threading.Lock()  # one read at a time; the others use its result

    def watch(self, signal: Callable[[], int]) -> None:
        """Read again whenever `signal()` (a count of changes told another way) moves,
        instead of when the stamp changes or every `reload_every` seconds: every change
        that renews the stamp is also told by the signal, which reaches other machines too,
        so a change costs one read per process (not one for the stamp and one for the
        signal), and no change none."""
        self._signal = signal
        self._watched = True
        self.reload_every = None

    def _look(self) -> Signature | None:
        """What says the value changed, beside the signal: the stamp (unless watching)."""
        return None if self._watched else signature(self._path)

    def _expired(self, loaded_at: float, now: float) -> bool:
        return self.reload_every is not None and now - loaded_at > self.reload_every

    def stale(self) -> bool:
        """Whether the value in memory may be out of date (no read; a `stat` of the stamp at
        most every `check_every` seconds): async callers `reload` in a thread first, so
        nothing reads on their event loop."""
        loaded = self._loaded
        if loaded is None:
            return True
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return False
        if (
            loaded[1] != self._look()
            or self._signalled != self._signal()
            or self._expired(loaded[0], now)
        ):
            # not marked as looked at: until a read is done, every caller reads too,
            # rather than decide by the old value while another thread reads the new one
            return True
        self._checked = now
        return False

    def changed(self) -> bool:
        """Whether the stamp moved since the value was read (one `stat`, never skipped)."""
        loaded = self._loaded
        return loaded is None or loaded[1] != self._look() or self._signalled != self._signal()

    def reload(self) -> T:
        """Read the value again, once per change however many threads ask at once: a thread
        that finds another reading waits for it, and uses what it read if that began after
        the stamp this thread saw was in place."""
        seen, told = self._look(), self._signal()
        with self._reading:
            loaded = self._loaded
            # no stamp (a read-only home) compares equal too: what this thread saw missing
            # is what the read saw missing, so only `reload_every` made it ask, and a read
            # that is not expired answers it (a stampede otherwise: one read per waiter)
            if (
                loaded is not None
                and loaded[1] == seen
                and self._signalled >= told
                and not self._expired(loaded[0], time.monotonic())
            ):
                return self._value  # read by another thread since this one saw the stamp
            started, signalled = time.monotonic(), self._signal()
            stamp = signature(self._path)
            if stamp is None and self._make_stamp:
                with suppress(OSError):  # a read-only home: `reload_every` still applies
                    write_bytes_atomic(self._file, b"0")
                    stamp = signature(self._path)
            self._value = self._read(stamp)
            self._loaded = (started, None if self._watched else stamp)
            self._signalled = signalled
            self._checked = started
            return self._value

    def current(self) -> T:
        """The value, read again first if it is `stale`."""
        if self.stale():
            return self.reload()
        return self._value

    @property
    def last(self) -> T:
        """The value as last read, without looking at the stamp (for a caller that has just
        asked `stale` and reloaded)."""
        return self._value

    def forget(self) -> None:
        """Read again on the next look (this process made the change)."""
        self._loaded = None
