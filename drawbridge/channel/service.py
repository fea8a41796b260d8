"""A home's channels: create them, publish files into them, keep their indexes current.

Publishing checks a file completely before anything is written, places it without ever
replacing a published file, records it, and rebuilds only what it touched: one project's
pages, or one conda subdir (incrementally).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Select, select

from drawbridge.channel import conda_index, pip_view
from drawbridge.channel.conda_packages import inspect_conda_package, is_conda_package
from drawbridge.channel.database import (
    ChannelRow,
    CondaPackageRow,
    Database,
    DistributionRow,
)
from drawbridge.channel.distributions import (
    DistributionInfo,
    ExpectedDigests,
    FileDigests,
    digest_bytes,
    digest_file,
    inspect_distribution,
    is_python_distribution,
)
from drawbridge.channel.errors import (
    DuplicateFile,
    InvalidDistribution,
    UnknownChannel,
    UnknownProject,
)
from drawbridge.channel.home import Home
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.storage import link_or_copy_new, write_bytes_atomic


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


class Channels:
    """The channels of one home, backed by its store and database."""

    def __init__(self, home: Home, database: Database) -> None:
        self.home = home
        self.db = database

    # -- channels -------------------------------------------------------------------------

    def create(self, name: str, description: str = "") -> None:
        layout = self.home.channel(name)
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                session.add(ChannelRow(name=name, description=description))
        layout.files_dir.mkdir(parents=True, exist_ok=True)
        with layout.lock():
            if not (layout.conda_dir / "noarch" / "repodata.json").exists():
                conda_index.index_conda(layout, conda_index.CHANNEL_SUBDIRS)
                conda_index.write_channeldata(layout, [])
            if not (layout.simple_dir / "index.html").exists():
                self._write_root_pages(layout)
                pip_view.stamp_pages_format(layout.simple_dir)

    def names(self) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(select(ChannelRow.name).order_by(ChannelRow.name)))

    def layout(self, name: str) -> ChannelLayout:
        """The channel's layout on disk; UnknownChannel if there is no such channel."""
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                raise UnknownChannel(
                    f"no channel {name!r}; create it with `drawbridge channel create {name}`"
                )
        return self.home.channel(name)

    # -- paths (for the server's file routes) -------------------------------------------

    def files_dir(self, channel: str) -> Path:
        return self.home.channel(channel).files_dir

    def simple_dir(self, channel: str) -> Path:
        return self.home.channel(channel).simple_dir

    def conda_dir(self, channel: str) -> Path:
        return self.home.channel(channel).conda_dir

    # -- publishing -------------------------------------------------------------------------

    def publish(
        self,
        channel: str,
        path: Path,
        filename: str | None = None,
        uploaded_by: str = "",
        expected: ExpectedDigests | None = None,
        index: bool = True,
    ) -> PublishedFile:
        """Check and publish one file; with `index`, refresh the indexes it touches."""
        filename = filename or path.name
        if "/" in filename or "\\" in filename or filename.startswith("."):
            raise InvalidDistribution(f"{filename!r} is not a plain file name")
        layout = self.layout(channel)
        digests = digest_file(path)
        (expected or ExpectedDigests()).check(filename, digests)
        placement = self._placement(layout, path, filename, digests, uploaded_by)
        with layout.lock():
            self._place_and_record(placement)
            if index:
                self._refresh_locked(layout, [placement.published])
        return placement.published

    def publish_many(
        self, channel: str, paths: Sequence[Path], uploaded_by: str = ""
    ) -> tuple[list[PublishedFile], list[tuple[Path, str]]]:
        """Publish several files, refreshing each touched index once at the end.

        Returns what was published and, for each file refused, its path and the reason.
        """
        published: list[PublishedFile] = []
        refused: list[tuple[Path, str]] = []
        for path in paths:
            try:
                published.append(self.publish(channel, path, uploaded_by=uploaded_by, index=False))
            except (InvalidDistribution, DuplicateFile, OSError) as error:
                refused.append((path, str(error)))
        self.refresh(channel, published)
        return published, refused

    def refresh(self, channel: str, published: Iterable[PublishedFile]) -> None:
        """Rebuild the pages and repodata that `published` files touched."""
        layout = self.home.channel(channel)
        with layout.lock():
            self._refresh_locked(layout, list(published))

    def _refresh_locked(self, layout: ChannelLayout, published: Sequence[PublishedFile]) -> None:
        projects = {p.project for p in published if p.kind == "pypi"}
        subdirs = {p.subdir for p in published if p.kind == "conda" and p.subdir}
        if projects:
            self._write_pages(layout, projects)
        if subdirs:
            self._index_conda_locked(layout, subdirs)

    def _placement(
        self, layout: ChannelLayout, path: Path, filename: str, digests: FileDigests, uploaded_by: str
    ) -> Placement:
        """Where a checked file goes, the row that records it, and what else comes with it."""
        if is_conda_package(filename):
            return _conda_placement(layout, path, filename, digests, uploaded_by)
        if is_python_distribution(filename):
            return _pypi_placement(layout, path, inspect_distribution(path, filename), digests, uploaded_by)
        raise InvalidDistribution(
            f"{filename}: unsupported file type; publish wheels (.whl), sdists (.tar.gz, .zip) "
            "or conda packages (.conda, .tar.bz2)"
        )

    def _place_and_record(self, placement: Placement) -> None:
        """Place a file (and its companions) and record its row; nothing stays placed if it
        fails. Raises DuplicateFile if the channel has a file of that name. Call with the
        channel lock held."""
        with self.db.session() as session:
            if session.scalar(placement.existing):
                raise DuplicateFile(placement.duplicate_message)
            placement.target.unlink(missing_ok=True)  # an orphan of a crash, never recorded
            link_or_copy_new(placement.source, placement.target)
            written = [placement.target]
            try:
                for companion, data in placement.companions.items():
                    write_bytes_atomic(companion, data)
                    written.append(companion)
                session.add(placement.row)
                session.flush()
            except BaseException:
                for path in written:
                    path.unlink(missing_ok=True)
                raise

    # -- indexes ----------------------------------------------------------------------------

    def reindex(self, channel: str, force: bool = False) -> None:
        """Rebuild every index of a channel: all pip pages and all conda subdirs."""
        layout = self.layout(channel)
        with layout.lock():
            self._reindex_locked(layout, force)

    def _reindex_locked(self, layout: ChannelLayout, force: bool) -> None:
        self._write_pages(layout, set(self.projects(layout.name)))
        self._index_conda_locked(layout, None, force=force)

    def recover(self) -> list[str]:
        """Finish the index runs a crash interrupted, and rewrite pip pages that an older
        Drawbridge wrote in an older format; return the channels that needed either.

        The markers are read with the channel lock held: a marker seen without it may
        belong to a run another process is doing right now, not to a crash.
        """
        recovered = []
        for channel in self.names():
            layout = self.home.channel(channel)
            with layout.lock():
                if conda_index.needs_recovery(layout) or layout.pages_marker.exists():
                    self._reindex_locked(layout, force=True)
                elif not pip_view.pages_are_current(layout.simple_dir):
                    self._write_pages(layout, set(self.projects(channel)))
                else:
                    continue
            recovered.append(channel)
        return recovered

    def _index_conda_locked(self, layout: ChannelLayout, subdirs: set[str] | None, force: bool = False) -> None:
        conda_index.index_conda(layout, subdirs, force=force)
        with self.db.session() as session:
            rows = session.execute(
                select(CondaPackageRow.name, CondaPackageRow.version, CondaPackageRow.subdir).where(
                    CondaPackageRow.channel == layout.name
                )
            ).all()
        conda_index.write_channeldata(layout, [tuple(row) for row in rows])

    def _write_pages(self, layout: ChannelLayout, projects: set[str]) -> None:
        write_bytes_atomic(layout.pages_marker, json.dumps(sorted(projects)).encode())
        for project in sorted(projects):
            files = self.project_files(layout.name, project, missing_ok=True)
            if files:
                pip_view.write_project_pages(layout.simple_dir / project, files)
        self._write_root_pages(layout)
        if projects >= set(self.projects(layout.name)):
            pip_view.stamp_pages_format(layout.simple_dir)
        layout.pages_marker.unlink()

    def _write_root_pages(self, layout: ChannelLayout) -> None:
        pip_view.write_root_pages(layout.simple_dir, self.projects(layout.name))

    # -- queries ----------------------------------------------------------------------------

    def projects(self, channel: str) -> list[str]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(DistributionRow.project)
                    .where(DistributionRow.channel == channel)
                    .distinct()
                    .order_by(DistributionRow.project)
                )
            )

    def project_files(
        self, channel: str, project: str, missing_ok: bool = False
    ) -> list[DistributionRow]:
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(DistributionRow).where(
                        DistributionRow.channel == channel, DistributionRow.project == project
                    )
                )
            )
        if not rows and not missing_ok:
            raise UnknownProject(f"no project {project!r} in channel {channel!r}")
        return rows

    def has_file(self, channel: str, filename: str) -> bool:
        """True if the channel already holds a file of that name (pip or conda view)."""
        with self.db.session() as session:
            for row_type in (DistributionRow, CondaPackageRow):
                if session.scalar(
                    select(row_type.id).where(row_type.channel == channel, row_type.filename == filename)
                ):
                    return True
        return False

    def conda_packages(self, channel: str) -> list[CondaPackageRow]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(CondaPackageRow)
                    .where(CondaPackageRow.channel == channel)
                    .order_by(CondaPackageRow.name, CondaPackageRow.subdir)
                )
            )

    def yank(self, channel: str, filename: str, reason: str = "", undo: bool = False) -> None:
        """Mark a file yanked (PEP 592), or un-yank it, and rewrite its project's pages."""
        with self.db.session() as session:
            row = session.scalar(
                select(DistributionRow).where(
                    DistributionRow.channel == channel, DistributionRow.filename == filename
                )
            )
            if row is None:
                raise UnknownProject(f"no file {filename!r} in channel {channel!r}")
            row.yanked, row.yanked_reason = (not undo), ("" if undo else reason)
            project = row.project
        layout = self.home.channel(channel)
        with layout.lock():
            self._write_pages(layout, {project})



@dataclass(frozen=True)
class Placement:
    """One checked file ready to publish: where it goes, what records it, what comes with it."""

    source: Path
    target: Path
    row: DistributionRow | CondaPackageRow
    existing: Select  # finds a record of the same name, if there is one
    duplicate_message: str
    published: PublishedFile
    companions: dict[Path, bytes] = field(default_factory=dict)  # e.g. the PEP 658 .metadata


def _pypi_placement(
    layout: ChannelLayout, path: Path, info: DistributionInfo, digests: FileDigests, uploaded_by: str
) -> Placement:
    target = layout.files_dir / info.filename
    metadata = info.metadata_bytes
    return Placement(
        source=path,
        target=target,
        row=_distribution_row(layout.name, info, digests, digest_bytes(metadata) if metadata is not None else None, uploaded_by),
        existing=select(DistributionRow.id).where(
            DistributionRow.channel == layout.name, DistributionRow.filename == info.filename
        ),
        duplicate_message=f"{info.filename} is already in channel {layout.name!r}; published files are "
        "immutable: bump the version or the build tag",
        published=PublishedFile(layout.name, info.filename, "pypi", info.project, info.version, digests.sha256),
        companions={target.with_name(target.name + ".metadata"): metadata} if metadata is not None else {},
    )


def _conda_placement(
    layout: ChannelLayout, path: Path, filename: str, digests: FileDigests, uploaded_by: str
) -> Placement:
    info = inspect_conda_package(path, filename)
    return Placement(
        source=path,
        target=layout.conda_dir / info.subdir / filename,
        row=CondaPackageRow(
            channel=layout.name, subdir=info.subdir, filename=filename, name=info.name, version=info.version,
            build=info.build, sha256=digests.sha256, size=digests.size, uploaded_by=uploaded_by,
        ),  # fmt: skip
        existing=select(CondaPackageRow.id).where(
            CondaPackageRow.channel == layout.name,
            CondaPackageRow.subdir == info.subdir,
            CondaPackageRow.filename == filename,
        ),
        duplicate_message=f"{info.subdir}/{filename} is already in channel {layout.name!r}; published packages "
        "are immutable: bump the build number",
        published=PublishedFile(layout.name, filename, "conda", info.name, info.version, digests.sha256, info.subdir),
    )


def _distribution_row(
    channel: str,
    info: DistributionInfo,
    digests: FileDigests,
    metadata_sha256: str | None,
    uploaded_by: str,
) -> DistributionRow:
    return DistributionRow(
        channel=channel,
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
        metadata_sha256=metadata_sha256,
        core_metadata=info.core_metadata,
        uploaded_by=uploaded_by,
    )
