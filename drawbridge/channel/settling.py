"""After files are placed and recorded: index them and drop their intents, or, if indexing
fails, unpublish them in the room of the home's reserve, so the caller's error means
nothing was published.

A publish starts only with the reserve in place (`storage.require_reserve`), so the
undoing can always be recorded, even on a disk full to the last byte: the reserve is
freed for it and taken back if there is room. What cannot be undone all the same is said
in the error, and settled by the next start or `drawbridge index` (`recovery`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from drawbridge.channel import shards
from drawbridge.channel.errors import IndexFailure, StorageFailure, StorageFull
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.publishing import Placement, PublishedFile, Publisher
from drawbridge.channel.storage import reserve_released, storage_errors

log = logging.getLogger("drawbridge")
#: how indexing may fail for a reason other than a bug: the disk, the OS, rattler
IndexingFailure = StorageFull | StorageFailure | IndexFailure


def index_or_undo(
    indexes: ChannelIndexes,
    publisher: Publisher,
    reserve_root: Path,
    layout: ChannelLayout,
    placed: Sequence[Placement],
    published: Sequence[PublishedFile],
) -> None:
    """Index what `published` touched, then drop their intents. If indexing fails,
    unpublish `placed` (`undo`) and raise the error. Call with the channel lock held."""
    projects = {p.project for p in published if p.kind == "pypi"}
    subdirs = {p.subdir for p in published if p.kind == "conda" and p.subdir}
    conda = [p for p in published if p.kind == "conda"]
    # markers there now are an interrupted run's; those this run writes are its own
    markers = [m for m in (layout.indexing_marker, layout.pages_marker) if not m.exists()]
    try:
        with storage_errors(f"indexing channel {layout.name!r}"):
            for item in indexes.refresh(layout, projects, subdirs, conda):
                log.warning("quarantined %s", item)
    except (StorageFull, StorageFailure, IndexFailure) as error:
        touched = (projects, subdirs, markers, conda)
        failure = undo(indexes, publisher, reserve_root, layout, placed, touched, error)
        if failure is error:
            raise
        raise failure from error
    try:
        with storage_errors(f"settling what was published into {layout.name!r}"):
            publisher.finish(layout, published)
    except (StorageFull, StorageFailure) as error:
        # the files are recorded and indexed: published. The intents left only make the
        # next start index them once more.
        log.warning("%s; the next start drops the intents left", error)


def undo(
    indexes: ChannelIndexes,
    publisher: Publisher,
    reserve_root: Path,
    layout: ChannelLayout,
    placed: Sequence[Placement],
    touched: tuple[set[str], set[str], list[Path], Sequence[PublishedFile]],
    error: IndexingFailure,
) -> IndexingFailure:
    """Unpublish `placed` after indexing failed with `error`, in the reserve's room, and
    rewrite what the failed run `touched` (projects, subdirs) incrementally: the markers
    it wrote (the third item) are dropped first, every index file being replaced
    atomically (a marker that was there before it stays, and makes this a full run); the
    conda files (the fourth) leave their shards, and every shard the index no longer
    names goes, so a rolled-back batch leaves no file behind.
    Return the error to raise: `error`, or one saying also what could not be undone."""
    projects, subdirs, markers, conda = touched
    try:
        with reserve_released(reserve_root):
            with storage_errors(f"unpublishing from channel {layout.name!r}"):
                publisher.roll_back(placed)
                for marker in markers:
                    marker.unlink(missing_ok=True)
            try:
                with storage_errors(f"rewriting the indexes of channel {layout.name!r}"):
                    indexes.refresh(layout, projects, subdirs, conda)
                    for subdir in subdirs:
                        shards.sweep(layout.conda_dir / subdir, grace=0)
            except Exception as undo_error:
                return type(error)(
                    f"{error}; {'the files were unpublished, but ' if placed else ''}"
                    f"{undo_error}; the next start, or `drawbridge index`, rewrites the indexes"
                )
    except Exception as undo_error:
        log.error("%s; %s", error, undo_error)
        return type(error)(
            f"{error}; and {undo_error}: the files stay recorded, and the next start, or "
            "`drawbridge index`, indexes them"
        )
    return error
