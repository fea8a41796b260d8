"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO


def _temporary_beside(target: Path) -> tuple[int, Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file in the same folder and a rename."""
    fd, temporary = _temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 `text` to `target` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def write_with_gzip_atomic(target: Path, data: bytes) -> None:
    """Write `data` and a `.gz` twin of it, so servers can answer gzip without compressing."""
    write_bytes_atomic(target.with_name(target.name + ".gz"), gzip.compress(data, 6, mtime=0))
    write_bytes_atomic(target, data)


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

    Raises ValueError if more than `limit` bytes arrive.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".incoming.", dir=folder)
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
