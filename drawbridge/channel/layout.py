"""One channel on disk: its folders, its markers and its lock file.

A plain channel lives in `channels/<name>/`, an owned one in `channels/<owner>/<name>/`
(an owner is never also a plain channel, so one channel's folder never holds another's).

```
channels/<channel>/
  .lock              held while a file is placed and recorded, or an index is written
                     (on one box; several servers hold an advisory lock instead:
                     `channel.locks`, `Database.locks.channel(layout)`)
  .lock-batches      shared by each publish of many files while it runs
  .indexing          a conda index run is under way (a crash leaves it: redo in full)
  .pages-pending     pip pages are being rewritten (a crash leaves it: rewrite them all)
  conda/<subdir>/    .conda and .tar.bz2 files, repodata (+ .zst, .gz), shards
  pypi/files/        wheels, sdists and their .metadata files
  pypi/simple/       PEP 503/691 pages, a folder per project
  quarantine/        files the indexer or `drawbridge verify` refused, each with a
                     `.reason.json`, under the path they had (never served)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChannelLayout:
    """Where one channel keeps its files (its lock is `Database.locks.channel(layout)`)."""

    name: str
    root: Path

    @property
    def conda_dir(self) -> Path:
        return self.root / "conda"

    @property
    def files_dir(self) -> Path:
        return self.root / "pypi" / "files"

    @property
    def simple_dir(self) -> Path:
        return self.root / "pypi" / "simple"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def indexing_marker(self) -> Path:
        return self.root / ".indexing"

    @property
    def pages_marker(self) -> Path:
        return self.root / ".pages-pending"
