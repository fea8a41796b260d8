"""Set a bad file aside: out of the served folders, into `<channel>/quarantine/`, with why.

A quarantined file keeps its path relative to the channel (`conda/linux-64/x.tar.bz2` goes
to `quarantine/conda/linux-64/x.tar.bz2`), and `<file>.reason.json` beside it says what was
wrong, when, and what the database recorded of it. The database row is removed by the
caller, so the channel serves exactly what is left; publishing a good file of the same
name again is then allowed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.storage import write_text_atomic

REASON_SUFFIX = ".reason.json"


@dataclass(frozen=True)
class QuarantinedFile:
    """One file set aside: where it was (relative to the channel) and why."""

    channel: str
    path: str  # relative to the channel's folder, e.g. "conda/noarch/x-1.0-0.tar.bz2"
    reason: str
    moved_to: Path | None  # None when the file was already gone (only its record is dropped)
    note: Path  # the .reason.json

    def __str__(self) -> str:
        where = f" (now {self.moved_to})" if self.moved_to else ""
        return f"{self.channel}/{self.path}: {self.reason}{where}"


def quarantine(
    layout: ChannelLayout, path: Path, reason: str, record: dict[str, Any] | None = None
) -> QuarantinedFile:
    """Move `path` (inside the channel) to the quarantine with a reason file; return what
    was done. A missing `path` only gets its reason file. Call with the channel lock held."""
    relative = path.relative_to(layout.root).as_posix()
    target = _free_name(layout.quarantine_dir / relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    moved = True
    try:
        os.replace(path, target)
    except FileNotFoundError:
        moved = False
    note = {
        "file": relative,
        "reason": reason,
        "quarantined": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "file_present": moved,
        "record": record,
    }
    note_path = target.with_name(target.name + REASON_SUFFIX)
    write_text_atomic(note_path, json.dumps(note, indent=1, default=str))
    return QuarantinedFile(layout.name, relative, reason, target if moved else None, note_path)


def _free_name(target: Path) -> Path:
    """`target`, or `target.1`, `target.2`… if a file of that name was quarantined before."""
    candidate, n = target, 0
    while candidate.exists() or candidate.with_name(candidate.name + REASON_SUFFIX).exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    return candidate


def add_record(quarantined: QuarantinedFile, record: dict[str, Any]) -> None:
    """Add what the database recorded of a quarantined file to its reason file."""
    note = json.loads(quarantined.note.read_text("utf-8"))
    note["record"] = record
    write_text_atomic(quarantined.note, json.dumps(note, indent=1, default=str))
