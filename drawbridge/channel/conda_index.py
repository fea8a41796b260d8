"""Index a channel's conda view with rattler: repodata.json, .zst and CEP-16 shards.

A run is crash-safe: a marker file (`ChannelLayout.indexing_marker`) says an index is under way,
rattler replaces each index
file atomically, and a channel found with the marker (a killed run) is re-indexed in full
while the last complete files keep being served.

A run never depends on one bad file: when rattler fails on a subdir, each package it had
not indexed yet is tried alone (`indexer_problem`, an index of a one-file channel), the
ones it refuses are quarantined, and the subdir is indexed again. Publishing runs the same
one-file trial before placing anything, so only a file placed by hand or corrupted on
disk can get that far.

A publish does not run rattler over the subdir: `add_to_index` puts the records of the
packages it published (rattler's own, from that trial) into their names' shards and
replaces the shard index, so its cost does not grow with the subdir (`shards`);
repodata.json and channeldata.json follow when next read (`repodata_files`). rattler's
`index_fs` makes the full runs (a new subdir, recovery, `drawbridge index`), with at
most `MAX_PARALLEL` packages open at a time, so a batch of any size fits the limit of
open files.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import zstandard
from rattler import Subdir
from rattler.index import index_fs

from drawbridge.channel import repodata_files, shards
from drawbridge.channel.conda_packages import is_conda_package
from drawbridge.channel.errors import IndexFailure, InvalidDistribution
from drawbridge.channel.faults import crash_point
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.platforms import DEFAULT_SUBDIRS
from drawbridge.channel.quarantine import QuarantinedFile, quarantine
from drawbridge.channel.storage import (
    is_temporary,
    storage_errors,
    write_bytes_atomic,
    write_text_atomic,
)


class IndexFile(NamedTuple):
    """An index file of a subdir: its media type, and whether a `.gz` twin is written
    beside it (`_write_compressed`)."""

    media_type: str
    gzip_twin: bool


#: the files at the top of a subdir that change on every index run, by name (the one list:
#: the server's routes and fast path serve exactly these from memory)
INDEX_FILES: Mapping[str, IndexFile] = MappingProxyType(
    {
        "repodata.json": IndexFile("application/json", gzip_twin=True),
        "repodata.json.zst": IndexFile("application/zstd", gzip_twin=False),
        "repodata_shards.msgpack.zst": IndexFile("application/octet-stream", gzip_twin=False),
    }
)
#: packages rattler's indexer holds open at once (its default has no bound: a batch of
#: 32,000 files once ran out of file descriptors with `ulimit -n` 20,000)
MAX_PARALLEL = 32
#: subdirs every channel serves from birth (empty until something is published for them)
CHANNEL_SUBDIRS = ("noarch", *DEFAULT_SUBDIRS)


def subdirs_in_use(layout: ChannelLayout) -> list[str]:
    """Every subdir folder of the conda view, noarch always among them."""
    root = layout.conda_dir
    (root / "noarch").mkdir(parents=True, exist_ok=True)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def needs_recovery(layout: ChannelLayout) -> bool:
    """True when an index run was interrupted (its marker is still there)."""
    return layout.indexing_marker.exists()


def index_conda(
    layout: ChannelLayout, subdirs: Iterable[str] | None = None, force: bool = False
) -> list[QuarantinedFile]:
    """Bring the repodata of `subdirs` (default: all in use) up to date with the files on disk;
    return the packages rattler refused, now quarantined.

    rattler reuses the existing repodata and reads only packages it has not seen, so one new
    package costs one package read. Call with the channel lock held.
    """
    root = layout.conda_dir
    wanted = sorted(set(subdirs) | {"noarch"}) if subdirs is not None else subdirs_in_use(layout)
    for subdir in wanted:
        (root / subdir).mkdir(parents=True, exist_ok=True)
    marker = layout.indexing_marker
    recovering = marker.exists()
    write_text_atomic(marker, json.dumps(wanted))
    crash_point("indexing")
    if recovering:
        force, wanted = True, subdirs_in_use(layout)
    quarantined: list[QuarantinedFile] = []
    for subdir in wanted:
        with repodata_files.building(root / subdir):
            quarantined += _index_subdir(layout, subdir, force)
            finish_subdir(root / subdir, grace=0 if recovering else shards.SHARD_GRACE)
    marker.unlink()
    repodata_files.ensure_channel(root)
    return quarantined


def finish_subdir(folder: Path, grace: float = shards.SHARD_GRACE) -> None:
    """After rattler wrote a subdir's repodata.json: its compressed twins, its shards and
    shard index (`shards.write_all`), its channeldata summary and the stamp saying they
    match; shards no index names swept (older than `grace` seconds)."""
    repodata = folder / "repodata.json"
    write_compressed_twins(repodata)
    document = json.loads(repodata.read_bytes())
    shards.write_all(folder, folder.name, document)
    repodata_files.write_part(folder, document)
    repodata_files.stamp(folder)
    shards.sweep(folder, grace)


def add_to_index(
    layout: ChannelLayout, subdir: str, files: Sequence[tuple[str, str, shards.Record | None]]
) -> list[QuarantinedFile]:
    """Bring the entries of `files` ((filename, package name, rattler's record or None))
    in `subdir` in line with the disk: a file there is added (its record read by rattler
    if not given), a file gone is removed. Costs what `files` cost, not what the subdir
    holds; a subdir without a shard index, or a channel an interrupted run left, is
    indexed in full instead (`index_conda`). Call with the channel lock held."""
    folder = layout.conda_dir / subdir
    if not _changes_by_shard(layout, folder):
        return index_conda(layout, [subdir])
    marker = layout.indexing_marker
    write_text_atomic(marker, json.dumps([subdir]))
    crash_point("indexing")
    changes = _changes(layout, subdir, files, lambda filename: (folder / filename).is_file())
    shards.update(folder, subdir, changes)
    marker.unlink()
    return []


def work_ahead(
    layout: ChannelLayout, subdir: str, files: Sequence[tuple[str, str, shards.Record | None]]
) -> None:
    """Work out the change `add_to_index(layout, subdir, files)` will make once `files`
    are placed (`shards.work_ahead`): nothing if it will index in full or has a package
    to read. Call with the channel lock held, and `shards.drop_ahead` after."""
    folder = layout.conda_dir / subdir
    if _changes_by_shard(layout, folder) and all(record is not None for *_, record in files):
        shards.work_ahead(folder, subdir, _changes(layout, subdir, files, lambda filename: True))


def _changes_by_shard(layout: ChannelLayout, folder: Path) -> bool:
    """Whether the subdir `folder` takes a change by its shards (else: a full index)."""
    stamped = (folder / repodata_files.STAMP).is_file()
    return not needs_recovery(layout) and stamped and (folder / shards.SHARD_INDEX).is_file()


def _changes(
    layout: ChannelLayout,
    subdir: str,
    files: Sequence[tuple[str, str, shards.Record | None]],
    is_there: Callable[[str], bool],
) -> dict[str, dict[str, shards.Record | None]]:
    """The change `files` make to the subdir's shards ({name: {filename: record, or None
    to remove it}}): a file `is_there` is added unless its entry is there already, a file
    not there is removed."""
    folder = layout.conda_dir / subdir
    changes: dict[str, dict[str, shards.Record | None]] = {}
    for filename, name, record in files:
        if not is_there(filename):
            changes.setdefault(name, {})[filename] = None
            continue
        index = shards.read_index(folder, copy=False) or {"shards": {}}
        there = _indexed(folder, index, name, filename)
        if there is not None and (record is None or there.get("sha256") == record["sha256"]):
            continue  # indexed already (published again, restored): its entry stays as it is
        if record is None:
            record = trial_record(folder / filename, filename, subdir, layout.root)
        changes.setdefault(name, {})[filename] = record
    return changes


def _indexed(folder: Path, index: dict[str, Any], name: str, filename: str) -> shards.Record | None:
    """The entry of `filename` in its name's shard, if it has one."""
    digest = index["shards"].get(name)
    if digest is None:
        return None
    shard = shards.read_shard(folder, digest)
    found: shards.Record | None = (shard.get(shards.package_key(filename)) or {}).get(filename)
    return found


def _index_subdir(layout: ChannelLayout, subdir: str, force: bool) -> list[QuarantinedFile]:
    """Index one subdir, quarantining each package rattler refuses, until it succeeds."""
    quarantined: list[QuarantinedFile] = []
    while True:
        try:
            # rattler's own .zst uses a slow, high level: on 4,000 packages it was 550 of the
            # 1,000 ms an incremental run took. The same file at level 3 costs ~10 ms.
            asyncio.run(
                index_fs(
                    layout.conda_dir,
                    target_platform=Subdir(subdir),
                    force=force,
                    write_zst=False,
                    write_shards=False,  # its writer opens every shard at once: ours below
                    max_parallel=MAX_PARALLEL,
                )
            )
            return quarantined
        except Exception as error:  # rattler raises its own types; the message says what
            shutil.rmtree(layout.conda_dir / ".tmp", ignore_errors=True)  # what it was writing
            shards.sweep(layout.conda_dir / subdir, grace=0)  # the shards it wrote, unnamed
            failure = _reason(error)
            refused = _refused_packages(layout, subdir, force)
            if not refused:
                raise IndexFailure(
                    f"rattler could not index {layout.name}/conda/{subdir} ({failure}), and no "
                    "single "
                    "package explains it; the last complete index is still served"
                ) from error
            quarantined += [
                quarantine(layout, path, f"rattler's indexer refuses it: {reason}")
                for path, reason in refused
            ]


def _refused_packages(
    layout: ChannelLayout, subdir: str, everything: bool
) -> list[tuple[Path, str]]:
    """The packages of `subdir` rattler refuses, each tried alone: those not in the current
    repodata, or all of them when `everything`."""
    folder = layout.conda_dir / subdir
    known = set() if everything else _indexed_names(folder / "repodata.json")
    refused = []
    for path in sorted(folder.iterdir()):
        if (
            path.name in known
            or not is_conda_package(path.name)
            or is_temporary(path.name)
            or not path.is_file()
        ):
            continue
        problem = indexer_problem(path, path.name, subdir, layout.root)
        if problem:
            refused.append((path, problem))
    return refused


def _indexed_names(repodata: Path) -> set[str]:
    try:
        document = json.loads(repodata.read_bytes())
    except (OSError, ValueError):
        return set()
    return set(document.get("packages", {})) | set(document.get("packages.conda", {}))


def indexer_problem(path: Path, filename: str, subdir: str, scratch: Path) -> str | None:
    """Why rattler's indexer refuses the package at `path` (named `filename`), or None.

    It indexes a channel holding only that file, in a temporary folder under `scratch`
    (which must be on the file's filesystem: the file is hard-linked, not copied). About
    10 ms for a small package. An OS failure (a full disk) raises, it is not the file's.
    """
    return _trial(path, filename, subdir, scratch)[0]


def trial_record(path: Path, filename: str, subdir: str, scratch: Path) -> shards.Record:
    """rattler's record of the package at `path`, as its shard holds it; InvalidDistribution
    with rattler's reason if its indexer refuses the package."""
    problem, record = _trial(path, filename, subdir, scratch)
    if problem or record is None:
        raise InvalidDistribution(f"{filename}: rattler's indexer refuses it ({problem})")
    return record


def _trial(
    path: Path, filename: str, subdir: str, scratch: Path
) -> tuple[str | None, shards.Record | None]:
    """(why rattler refuses the package, None) or (None, its record from the trial's shard)."""
    with storage_errors(f"trying {filename} with rattler's indexer"):
        folder = Path(tempfile.mkdtemp(prefix=".trial-", suffix=".tmp", dir=scratch))
    try:
        with storage_errors(f"trying {filename} with rattler's indexer"):
            for name in {subdir, "noarch"}:
                (folder / name).mkdir()
            try:
                (folder / subdir / filename).hardlink_to(path)
            except OSError:
                shutil.copyfile(path, folder / subdir / filename)
        try:
            asyncio.run(index_fs(folder, target_platform=Subdir(subdir), write_zst=False))
        except Exception as error:  # rattler's error types; the message is the reason
            return _reason(error), None
        index = shards.read_index_once(folder / subdir)
        for digest in (index or {"shards": {}})["shards"].values():
            shard = shards.read_shard(folder / subdir, digest)
            for key in shards.PACKAGE_KEYS:
                record = (shard.get(key) or {}).get(filename)
                if record is not None:
                    return None, record
        return "rattler's indexer left it out of the repodata", None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_with_indexer(path: Path, filename: str, subdir: str, scratch: Path) -> shards.Record:
    """rattler's record of the package; InvalidDistribution, with rattler's reason, if its
    indexer refuses it."""
    return trial_record(path, filename, subdir, scratch)


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def _reason(error: BaseException) -> str:
    """rattler's message, on one line; an OS failure inside rattler is raised as ours."""
    message = " ".join(str(error).split())
    found = _OS_ERROR.search(message)
    if found:
        with storage_errors("indexing with rattler"):
            raise OSError(int(found.group(1)), message)
    return message


def write_compressed_twins(repodata: Path) -> None:
    """Write repodata.json.zst (CEP clients) and repodata.json.gz (gzip HTTP clients)."""
    data = repodata.read_bytes()
    write_bytes_atomic(
        repodata.with_name("repodata.json.zst"), zstandard.ZstdCompressor(level=3).compress(data)
    )
    write_bytes_atomic(repodata.with_name("repodata.json.gz"), gzip.compress(data, 6, mtime=0))
