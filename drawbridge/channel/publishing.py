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
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Select, delete, select, update

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
from drawbridge.channel.faults import crash_point
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.storage import INCOMING_PREFIX, link_or_copy_new, write_bytes_atomic


@dataclass(frozen=True)
class PublishedFile:
    """The outcome of publishing one file."""

    channel: str
    filename: str
    kind: str  # "pypi" or "conda"
    project: str  # PEP 503 name, or the conda package name
    version: str
    sha256: str
    subdir: str | None = None
    already_published: bool = False  # the same bytes were there already: nothing changed


@dataclass(frozen=True)
class Placement:
    """One checked file ready to publish: where it goes, what records it, what comes with it."""

    layout: ChannelLayout
    source: Path  # the staged, checked copy
    target: Path
    row: DistributionRow | CondaPackageRow
    existing: Select  # the sha256 of a recorded file of the same name, if there is one
    duplicate_message: str
    published: PublishedFile
    companions: dict[Path, bytes] = field(default_factory=dict)  # e.g. the PEP 658 .metadata

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
    layout: ChannelLayout, staged: Path, filename: str, digests: FileDigests, uploaded_by: str
) -> Placement:
    """Check the staged file completely and say where it goes; InvalidDistribution if the
    indexer or the clients would refuse it."""
    if is_conda_package(filename):
        placement = _conda_placement(layout, staged, filename, digests, uploaded_by)
        _check_record(placement)
        subdir = placement.published.subdir or "noarch"
        conda_index.check_with_indexer(staged, filename, subdir, staged.parent)
        return placement
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
    """Places and records files with an intent around them; undoes them on request."""

    def __init__(self, database: Database) -> None:
        self.db = database

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
        """The indexes show `published`: drop their intents (and any a crash left for them)."""
        paths = [relative_path(item) for item in published]
        if paths:
            with self.db.session() as session:
                session.execute(
                    delete(PublishIntentRow).where(
                        PublishIntentRow.channel == layout.name, PublishIntentRow.path.in_(paths)
                    )
                )

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
        for p in placements:
            for path in p.paths:
                path.unlink(missing_ok=True)

    def _drop_intents_quietly(self, channel: str, paths: list[str]) -> None:
        try:
            with self.db.session() as session:
                session.execute(
                    delete(PublishIntentRow).where(
                        PublishIntentRow.channel == channel, PublishIntentRow.path.in_(paths)
                    )
                )
        except Exception:  # a full disk, say: the intent stays, and recovery drops it
            pass


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
    layout: ChannelLayout, path: Path, filename: str, digests: FileDigests, uploaded_by: str
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
