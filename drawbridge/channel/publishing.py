"""Publish one file into a channel: check it on a staged copy, record the intent, place it,
record it, and undo all of it if what follows fails.

The order is what makes a crash at any point harmless (`recovery` finishes the job):

1. the file is staged in `incoming/` and checked there completely, rattler's indexer
   included (`plan_placement`); nothing in the channel has changed yet;
2. an intent row ("placing") names the files about to be placed, and is committed;
3. the file and its PEP 658 .metadata are placed (a published file is never replaced);
4. one transaction records the file and moves the intent to "recorded";
5. the caller indexes, then drops the intent (`finish`).

A crash after 2 leaves files no record vouches for: recovery removes them. A crash after 4
leaves a recorded file the indexes may not show yet: recovery indexes it.

Removing files (a move out of a channel, a deletion from a volatile one) runs the other
way: one transaction deletes the records and writes "removed" intents, then the files go,
then the indexes are rewritten and the intents dropped; recovery finishes a crashed one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from drawbridge.channel import conda_index
from drawbridge.channel.conda_packages import inspect_conda_package, is_conda_package
from drawbridge.channel.database import (
    CondaPackageRow,
    Database,
    DistributionRow,
    PublishIntentRow,
    check_values,
)
from drawbridge.channel.distributions import (
    DistributionInfo,
    FileDigests,
    digest_bytes,
    inspect_distribution,
    is_python_distribution,
)
from drawbridge.channel.errors import DuplicateFile, InvalidDistribution, ValueRefused
from drawbridge.channel.events import EventKind, file_payload, forget_file_event, record_event
from drawbridge.channel.faults import crash_point
from drawbridge.channel.kinds import FileKind, MadeHow
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.storage import (
    INCOMING_PREFIX,
    link_or_copy_new,
    with_reserve_if_full,
    write_bytes_atomic,
)


@dataclass(frozen=True)
class PublishedFile:
    """The outcome of publishing one file."""

    channel: str
    filename: str
    kind: FileKind
    project: str  # PEP 503 name, or the conda package name
    version: str
    sha256: str
    subdir: str | None = None
    already_published: bool = False  # the same bytes were there already: nothing changed
    #: a conda package's entry as rattler's indexer made it (its shard's record), when the
    #: publish checked it: the index takes it as it is, without reading the package again
    record: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Provenance:
    """Where a conda package came from: `how` is "wheel" (bridged from the wheel
    `made_from`), "recipe" (built from the sdist `made_from`) or "upload"."""

    how: MadeHow = "upload"
    made_from: str = ""


UPLOADED = Provenance()


@dataclass(frozen=True)
class Placement:
    """One checked file ready to publish: where it goes, what records it, what comes with it."""

    layout: ChannelLayout
    source: Path  # the staged, checked copy
    target: Path
    row: DistributionRow | CondaPackageRow
    existing: Select[str]  # the sha256 of a recorded file of the same name, if there is one
    duplicate_message: str
    published: PublishedFile
    companions: dict[Path, bytes] = field(default_factory=dict)  # e.g. the PEP 658 .metadata
    #: the event its recording writes (`events`), and what it adds to the file's payload
    event: EventKind = "published"
    event_detail: dict[str, object] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """Every file this placement puts into the channel."""
        return [self.target, *self.companions]

    def relative(self, path: Path) -> str:
        """`path` relative to the channel's folder, as intents record it."""
        return path.relative_to(self.layout.root).as_posix()


def stage(path: Path, incoming: Path, ours: Path) -> Path:
    """A private copy of `path` in `incoming/`: the file checked is then the file placed,
    whatever happens to `path` meanwhile. A file under `ours` (the home: an upload, the
    download cache) is hard-linked; anything else is copied, since a published file shares
    its inode with it and a build tool rewriting `path` in place would change the channel."""
    incoming.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=INCOMING_PREFIX, suffix=".staged", dir=incoming)
    os.close(fd)
    staged = Path(name)
    staged.unlink()
    try:
        try:
            if not path.resolve().is_relative_to(ours.resolve()):
                raise OSError("not ours: copy it")
            os.link(path, staged)
        except OSError:
            shutil.copyfile(path, staged)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


def plan_placement(
    layout: ChannelLayout,
    staged: Path,
    filename: str,
    digests: FileDigests,
    uploaded_by: str,
    provenance: Provenance = UPLOADED,
) -> Placement:
    """Check the staged file completely and say where it goes; InvalidDistribution if the
    indexer or the clients would refuse it. `provenance` is recorded for a conda package."""
    if is_conda_package(filename):
        placement = _conda_placement(layout, staged, filename, digests, uploaded_by, provenance)
        _check_record(placement)
        subdir = placement.published.subdir or "noarch"
        record = conda_index.check_with_indexer(staged, filename, subdir, staged.parent)
        return replace(placement, published=replace(placement.published, record=record))
    if is_python_distribution(filename):
        placement = _pypi_placement(
            layout, staged, inspect_distribution(staged, filename), digests, uploaded_by
        )
        _check_record(placement)
        return placement
    raise InvalidDistribution(
        f"{filename}: unsupported file type; publish wheels (.whl), sdists (.tar.gz, .zip) "
        "or conda packages (.conda, .tar.bz2)"
    )


def _check_record(placement: Placement) -> None:
    """InvalidDistribution if the database could not keep the file's record as it is."""
    try:
        check_values(placement.row)
    except ValueRefused as error:
        raise InvalidDistribution(f"{placement.published.filename}: {error}") from None


class Publisher:
    """Places and records files with an intent around them; undoes them on request. The
    writes that settle an intent may use the reserve kept in `reserve_root` (`storage`)."""

    def __init__(self, database: Database, reserve_root: Path) -> None:
        self.db = database
        self.reserve_root = reserve_root

    def recorded(self, placement: Placement) -> str | None:
        """The sha256 recorded for a file of the placement's name in its channel, if any."""
        with self.db.session() as session:
            return session.scalar(placement.existing)

    def place_and_record(self, placement: Placement) -> PublishedFile:
        """Place a file (and its companions) and record it, intent first. The same bytes
        already recorded under that name are a success (`already_published`); other bytes
        are DuplicateFile. Nothing stays placed if this fails. Call with the channel lock held."""
        p, channel = placement, placement.layout.name
        with self.db.session() as session:
            recorded = session.scalar(p.existing)
            if recorded is not None:
                if recorded == p.published.sha256:
                    return replace(p.published, already_published=True)
                raise DuplicateFile(p.duplicate_message)
            # under the lock, an intent for this path can only be a crashed publish's
            session.execute(
                delete(PublishIntentRow).where(
                    PublishIntentRow.channel == channel,
                    PublishIntentRow.path == p.relative(p.target),
                )
            )
            session.add(
                PublishIntentRow(
                    channel=channel,
                    path=p.relative(p.target),
                    companions=[p.relative(c) for c in p.companions],
                    sha256=p.published.sha256,
                    kind=p.published.kind,
                    touches=p.published.subdir
                    if p.published.kind == "conda"
                    else p.published.project,
                    state="placing",
                )
            )
        crash_point("placing")
        written: list[Path] = []
        try:
            for path in p.paths:
                path.unlink(missing_ok=True)  # an orphan of a crash, never recorded
            link_or_copy_new(p.source, p.target)
            written.append(p.target)
            for companion, data in p.companions.items():
                write_bytes_atomic(companion, data)
                written.append(companion)
            crash_point("placed")
            with self.db.session() as session:
                session.add(p.row)
                _record_file_event(
                    session, p.event, p.published, p.relative(p.target), **p.event_detail
                )
                session.execute(
                    update(PublishIntentRow)
                    .where(
                        PublishIntentRow.channel == channel,
                        PublishIntentRow.path == p.relative(p.target),
                    )
                    .values(state="recorded")
                )
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            self._drop_intents_quietly(channel, [p.relative(p.target)])
            raise
        crash_point("recorded")
        return p.published

    def finish(self, layout: ChannelLayout, published: Iterable[PublishedFile]) -> None:
        """The indexes show `published`: drop their intents (and any a crash left for them),
        with the reserve's room if the disk is full."""
        paths = [relative_path(item) for item in published]
        if paths:
            with_reserve_if_full(self.reserve_root, lambda: self._drop_intents(layout.name, paths))

    def roll_back(self, placements: Sequence[Placement]) -> None:
        """Unpublish `placements` (recorded, maybe half indexed): their records and intents
        go in one transaction, then their files. If the database cannot take even that (a
        full disk), files and intents stay, and recovery indexes them later instead."""
        if not placements:
            return
        with self.db.session() as session:
            for p in placements:
                session.execute(delete(type(p.row)).where(type(p.row).id == p.row.id))
                session.execute(
                    delete(PublishIntentRow).where(
                        PublishIntentRow.channel == p.layout.name,
                        PublishIntentRow.path == p.relative(p.target),
                    )
                )
                forget_file_event(session, p.layout.name, p.relative(p.target), (p.event,))
        for p in placements:
            for path in p.paths:
                path.unlink(missing_ok=True)

    def remove(
        self,
        layout: ChannelLayout,
        rows: Sequence[DistributionRow | CondaPackageRow],
        also_record: Sequence[object] = (),
        event: EventKind = "deleted",
        event_detail: dict[str, object] | None = None,
    ) -> list[PublishedFile]:
        """Unrecord `rows` of `layout`'s channel and remove their files: the records go and
        "removed" intents come in one transaction (with `also_record`, e.g. an audit row,
        and an `event` per file), then the files. The caller indexes what the returned
        files touched, then `finish`es. Call with the channel lock held."""
        removed = [published_from_row(row) for row in rows]
        with self.db.session() as session:
            for row, item in zip(rows, removed):
                session.execute(delete(type(row)).where(type(row).id == row.id))
                paths = [layout.root / relative_path(item)]
                companions = [p for p in removal_paths(layout, row) if p not in paths]
                session.execute(
                    delete(PublishIntentRow).where(
                        PublishIntentRow.channel == layout.name,
                        PublishIntentRow.path == relative_path(item),
                    )
                )
                session.add(
                    PublishIntentRow(
                        channel=layout.name,
                        path=relative_path(item),
                        companions=[c.relative_to(layout.root).as_posix() for c in companions],
                        sha256=item.sha256,
                        kind=item.kind,
                        touches=item.subdir if item.kind == "conda" else item.project,
                        state="removed",
                    )
                )
                _record_file_event(
                    session, event, item, relative_path(item), **(event_detail or {})
                )
            session.add_all(also_record)
        crash_point("removed")
        for row in rows:
            for path in removal_paths(layout, row):
                path.unlink(missing_ok=True)
        return removed

    def _drop_intents(self, channel: str, paths: list[str]) -> None:
        with self.db.session() as session:
            session.execute(
                delete(PublishIntentRow).where(
                    PublishIntentRow.channel == channel, PublishIntentRow.path.in_(paths)
                )
            )

    def _drop_intents_quietly(self, channel: str, paths: list[str]) -> None:
        """Drop intents of a placement that failed, with the reserve's room if the disk is
        full; if even that fails, the intent stays and recovery drops it."""
        try:
            with_reserve_if_full(self.reserve_root, lambda: self._drop_intents(channel, paths))
        except Exception:
            pass


def _record_file_event(
    session: Session, kind: EventKind, item: PublishedFile, path: str, **detail: object
) -> None:
    """The outbox's row for a file that is being recorded or unrecorded (`events`)."""
    payload = file_payload(
        item.kind, item.filename, item.project, item.version, item.sha256, item.subdir, **detail
    )
    record_event(session, kind, item.channel, item.filename, payload, path=path)


def copy_placement(
    target: ChannelLayout,
    staged: Path,
    row: DistributionRow | CondaPackageRow,
    metadata: bytes | None,
) -> Placement:
    """A recorded file of another channel, staged at `staged`, placed into `target` with the
    same record (uploader, upload time, provenance, yanked state kept). Its bytes must have
    been checked against `row.sha256` already."""
    copied = type(row)(
        **{
            column.key: getattr(row, column.key)
            for column in row.__table__.columns
            if column.key not in ("id", "channel")
        },
        channel=target.name,
    )
    if isinstance(row, DistributionRow):
        path = target.files_dir / row.filename
        existing = select(DistributionRow.sha256).where(
            DistributionRow.channel == target.name, DistributionRow.filename == row.filename
        )
        published = PublishedFile(
            target.name, row.filename, "pypi", row.project, row.version, row.sha256
        )
        companions = {path.with_name(path.name + ".metadata"): metadata} if metadata else {}
        shown = row.filename
    else:
        path = target.conda_dir / row.subdir / row.filename
        existing = select(CondaPackageRow.sha256).where(
            CondaPackageRow.channel == target.name,
            CondaPackageRow.subdir == row.subdir,
            CondaPackageRow.filename == row.filename,
        )
        published = PublishedFile(
            target.name, row.filename, "conda", row.name, row.version, row.sha256, row.subdir
        )
        companions = {}
        shown = f"{row.subdir}/{row.filename}"
    return Placement(
        layout=target,
        source=staged,
        target=path,
        row=copied,
        existing=existing,
        duplicate_message=f"{shown} is already in channel {target.name!r} with other contents; "
        "published files are never replaced: delete it there first if the channel is volatile, "
        "or promote another version",
        published=published,
        companions=companions,
    )


def removal_paths(layout: ChannelLayout, row: DistributionRow | CondaPackageRow) -> list[Path]:
    """The files that go with a recorded file when it is removed: it and its .metadata."""
    if isinstance(row, DistributionRow):
        path = layout.files_dir / row.filename
        return [path, path.with_name(path.name + ".metadata")]
    return [layout.conda_dir / row.subdir / row.filename]


def published_from_row(row: DistributionRow | CondaPackageRow) -> PublishedFile:
    """A record as the `PublishedFile` the indexes refresh from."""
    if isinstance(row, DistributionRow):
        return PublishedFile(
            row.channel, row.filename, "pypi", row.project, row.version, row.sha256
        )
    return PublishedFile(
        row.channel, row.filename, "conda", row.name, row.version, row.sha256, row.subdir
    )


def relative_path(item: PublishedFile) -> str:
    """Where a published file lives, relative to its channel's folder."""
    if item.kind == "conda":
        return f"conda/{item.subdir}/{item.filename}"
    return f"pypi/files/{item.filename}"


def _pypi_placement(
    layout: ChannelLayout,
    path: Path,
    info: DistributionInfo,
    digests: FileDigests,
    uploaded_by: str,
) -> Placement:
    target = layout.files_dir / info.filename
    metadata = info.metadata_bytes
    return Placement(
        layout=layout,
        source=path,
        target=target,
        row=DistributionRow(
            channel=layout.name,
            project=info.project,
            display_name=info.display_name,
            version=info.version,
            filename=info.filename,
            packagetype=info.packagetype,
            python_version=info.python_version,
            sha256=digests.sha256,
            md5=digests.md5,
            blake2b_256=digests.blake2b_256,
            size=digests.size,
            requires_python=info.requires_python,
            metadata_sha256=digest_bytes(metadata) if metadata is not None else None,
            core_metadata=info.core_metadata,
            uploaded_by=uploaded_by,
        ),
        existing=select(DistributionRow.sha256).where(
            DistributionRow.channel == layout.name, DistributionRow.filename == info.filename
        ),
        duplicate_message=f"{info.filename} is already in channel {layout.name!r} with other "
        "contents; published files are immutable: bump the version or the build tag",
        published=PublishedFile(
            layout.name, info.filename, "pypi", info.project, info.version, digests.sha256
        ),
        companions={target.with_name(target.name + ".metadata"): metadata}
        if metadata is not None
        else {},
    )


def _conda_placement(
    layout: ChannelLayout,
    path: Path,
    filename: str,
    digests: FileDigests,
    uploaded_by: str,
    provenance: Provenance,
) -> Placement:
    info = inspect_conda_package(path, filename)
    return Placement(
        layout=layout,
        source=path,
        target=layout.conda_dir / info.subdir / filename,
        row=CondaPackageRow(
            channel=layout.name,
            subdir=info.subdir,
            filename=filename,
            name=info.name,
            version=info.version,
            build=info.build,
            sha256=digests.sha256,
            size=digests.size,
            uploaded_by=uploaded_by,
            made_how=provenance.how,
            made_from=provenance.made_from,
        ),
        existing=select(CondaPackageRow.sha256).where(
            CondaPackageRow.channel == layout.name,
            CondaPackageRow.subdir == info.subdir,
            CondaPackageRow.filename == filename,
        ),
        duplicate_message=f"{info.subdir}/{filename} is already in channel {layout.name!r} with "
        "other contents; published packages are immutable: bump the build number",
        published=PublishedFile(
            layout.name, filename, "conda", info.name, info.version, digests.sha256, info.subdir
        ),
    )
