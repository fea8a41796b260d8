"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Temporary files are named `.<target>.<random>.tmp` beside their target, so one left by a
crash is recognised and removed (`remove_temporaries`), as is rattler's `.tmp` folder.
OS failures are turned into the channel's own errors by `storage_errors`: `StorageFull`
for a full disk or quota, else `StorageFailure`, each naming what was being done. A
`.reserve` file of 1 MiB keeps room for undoing a publish on a full disk; a publish
starts only with it in place (`require_reserve`).
"""

from __future__ import annotations

import errno
import gzip
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

from drawbridge.channel.errors import StorageFailure, StorageFull

#: errno values that mean "no room": the disk, or the user's quota, is full
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: what SQLite says (through SQLAlchemy) when it cannot grow the database file
SQLITE_FULL = "database or disk is full"

T = TypeVar("T")


def _temporary_beside(target: Path) -> tuple[int, Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file in the same folder and a rename."""
    temporary = write_synced_beside(target, data)
    try:
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_synced_beside(target: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `target`, synced; return its path (for
    `replace_releasing_old`, which puts it in place)."""
    fd, temporary = _temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def replace_releasing_old(temporary: Path, target: Path) -> None:
    """Rename `temporary` (`write_synced_beside`) over `target`, a big file replaced often
    (a shard index of 100,000 names, 3.7 MB): the rename that drops the old file's last
    link frees its blocks inside the rename (1.6 ms on ext4), so the old file is first
    linked aside (a temporary name, which `remove_temporaries` removes after a crash) and
    that link is dropped on a thread. `wait_for_releases` waits for those threads (a
    writer calls it before it lets go of its lock, so nothing of its own is left behind).
    If the rename fails, `temporary` is removed."""
    aside: Path | None = None
    try:
        aside = _linked_aside(target)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        if aside is not None:
            aside.unlink(missing_ok=True)
        raise
    if aside is not None:
        _RELEASES.drop(aside)


def _linked_aside(target: Path) -> Path | None:
    """A second link to `target` under a temporary name beside it; None if there is no
    `target` (or the file store cannot link: the rename then frees the file itself)."""
    name = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        os.link(target, name)
    except OSError:  # none there, no links on this store, no room for the name
        return None
    return name


class _Releases:
    """Links being dropped on threads (`replace_releasing_old`)."""

    def __init__(self) -> None:
        self._running: list[threading.Thread] = []
        self._lock = threading.Lock()

    def drop(self, path: Path) -> None:
        thread = threading.Thread(
            target=path.unlink, kwargs={"missing_ok": True}, name="drawbridge-release"
        )
        with self._lock:  # started before another thread's `wait` can join it
            self._running = [t for t in self._running if t.is_alive()]
            thread.start()
            self._running.append(thread)

    def wait(self) -> None:
        with self._lock:
            running, self._running = self._running, []
        for thread in running:
            thread.join()

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's threads are not there (the parent drops its own
        links), and the lock may have been held by one of them."""
        self._running, self._lock = [], threading.Lock()


_RELEASES = _Releases()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RELEASES.forget_after_fork)


def wait_for_releases() -> None:
    """Wait until the old files `replace_releasing_old` set aside are gone."""
    _RELEASES.wait()


def write_files_atomic(files: dict[Path, bytes]) -> None:
    """Write several files so that either all of them change or none does (short of a
    crash between two renames, which the caller's marker covers): every temporary file is
    written and synced first, then all are renamed. Renames need no free space, so a full
    disk leaves the old files, all of them."""
    temporaries: list[tuple[Path, Path]] = []
    try:
        for target, data in files.items():
            fd, temporary = _temporary_beside(target)
            temporaries.append((temporary, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for temporary, target in temporaries:
            os.replace(temporary, target)
    finally:
        for temporary, _target in temporaries:
            temporary.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 `text` to `target` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def with_gzip_twin(target: Path, data: bytes) -> dict[Path, bytes]:
    """`data` for `target` and its `.gz` twin, for `write_files_atomic`: servers then answer
    gzip without compressing."""
    return {target.with_name(target.name + ".gz"): gzip.compress(data, 6, mtime=0), target: data}


def write_with_gzip_atomic(target: Path, data: bytes) -> None:
    """Write `data` and a `.gz` twin of it, both or neither."""
    write_files_atomic(with_gzip_twin(target, data))


def link_or_copy_new(source: Path, target: Path) -> None:
    """Place `source` at `target`, which must not exist yet; hard-link where possible.

    Raises FileExistsError if `target` exists, so a published file is never replaced.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = _temporary_beside(target)
    os.close(fd)
    temporary.unlink()
    try:
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)
        # os.link refuses to overwrite, which makes the final step race-free.
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def copy_stream_to_temporary(stream: BinaryIO, folder: Path, limit: int | None = None) -> Path:
    """Copy `stream` into a new temporary file under `folder`; return its path.

    Raises ValueError if more than `limit` bytes arrive, StorageFull if the disk fills.
    """
    with storage_errors("receiving an upload"):
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=INCOMING_PREFIX, dir=folder)
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(1024 * 1024):
                    written += len(chunk)
                    if limit is not None and written > limit:
                        raise ValueError(f"more than {limit} bytes")
                    out.write(chunk)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    return Path(name)


#: the prefix of files `copy_stream_to_temporary` and publishing stage in `incoming/`
INCOMING_PREFIX = ".incoming."


def is_temporary(name: str) -> bool:
    """Whether a file name is a temporary file of ours, a trial folder, or rattler's `.tmp`
    folder (where it writes before renaming; it runs only under the channel lock)."""
    return name.startswith(".") and name.endswith(".tmp")


def remove_temporaries(root: Path) -> list[Path]:
    """Remove the temporary files (and non-empty trial folders) a crash left under `root`;
    return them. Call with the lock held that every writer under `root` holds."""
    removed = []
    for folder, dirs, files in os.walk(root):
        for name in files:
            if is_temporary(name):
                (Path(folder) / name).unlink(missing_ok=True)
                removed.append(Path(folder) / name)
        for name in [d for d in dirs if is_temporary(d)]:
            path = Path(folder) / name
            if any(path.iterdir()):  # rattler keeps an empty `.tmp` folder between runs
                shutil.rmtree(path)
                removed.append(path)
        dirs[:] = [d for d in dirs if not is_temporary(d)]
    return removed


def remove_stale_incoming(folder: Path, older_than: float = 3600.0) -> list[Path]:
    """Remove uploads, staged files and trial folders a crash left in `incoming/`: those
    whose inode has not changed for `older_than` seconds. An upload in progress is written
    to continually, and staging a file (a new hard link) changes its inode's ctime, so no
    live publish loses its file, whichever process runs this."""
    removed = []
    cutoff = time.time() - older_than
    entries = (
        [p for p in folder.iterdir() if p.name.startswith(INCOMING_PREFIX) or is_temporary(p.name)]
        if folder.is_dir()
        else []
    )
    for path in entries:
        try:
            if path.lstat().st_ctime < cutoff:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


#: a file kept in the home so that undoing a publish can be recorded on a full disk
RESERVE_NAME = ".reserve"
RESERVE_BYTES = 1024 * 1024


def ensure_reserve(root: Path) -> bool:
    """Make sure `root` holds `RESERVE_BYTES` of space in reserve (a file of zeros, written
    for real so the filesystem allocates it); False if there is no room for it now."""
    reserve = root / RESERVE_NAME
    try:
        if reserve.stat().st_size == RESERVE_BYTES:
            return True
    except FileNotFoundError:
        pass
    try:
        write_bytes_atomic(reserve, b"\0" * RESERVE_BYTES)
    except OSError:
        return False
    return True


def require_reserve(root: Path, doing: str) -> None:
    """Take the reserve back if it was used and there is room again; StorageFull, before
    anything is written, if there is not: a publish that could not be undone on a full
    disk would leave a file recorded behind its client's error."""
    if not ensure_reserve(root):
        raise StorageFull(
            f"{doing}: refused, no space left for the {RESERVE_BYTES // 1024 // 1024} MiB "
            f"reserve (`{RESERVE_NAME}` in the Drawbridge home) that lets a publish be undone "
            "on a full disk; free some space and retry"
        )


@contextmanager
def reserve_released(root: Path) -> Iterator[None]:
    """Free the reserve for the block (undoing a publish on a full disk needs room in the
    database), then take it back if there is room again."""
    (root / RESERVE_NAME).unlink(missing_ok=True)
    try:
        yield
    finally:
        ensure_reserve(root)


def with_reserve_if_full(root: Path, action: Callable[[], T]) -> T:
    """Run `action`; if the disk is full, free the reserve and run it once more. For the
    small writes that settle a publish (dropping its intent), which must not fail for the
    last few kilobytes."""
    try:
        return action()
    except Exception as error:
        if not is_full(error):
            raise
    with reserve_released(root):
        return action()


def is_full(error: BaseException) -> bool:
    """Whether `error` means the disk or quota is full (an OSError, StorageFull, or SQLite
    saying so)."""
    if isinstance(error, StorageFull):
        return True
    if isinstance(error, OSError):
        return error.errno in FULL_ERRNOS
    return SQLITE_FULL in str(error)


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Turn an OS failure (and SQLite's "disk is full") while `doing` into StorageFull or
    StorageFailure, naming what was being done and what the system said."""
    try:
        yield
    except OSError as error:
        if is_full(error):
            raise StorageFull(
                f"{doing}: no space left in the Drawbridge home ({error.strerror}); free some "
                "space and retry"
            ) from error
        raise StorageFailure(f"{doing}: the system refused it ({error})") from error
    except Exception as error:
        if type(error).__name__ == "OperationalError" and is_full(error):
            raise StorageFull(
                f"{doing}: the database cannot grow, the disk is full; free some space and retry"
            ) from error
        raise
