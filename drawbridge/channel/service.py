"""A home's channels: create them, publish files into them, keep their indexes current.

Publishing checks a file completely before anything is written, places it without ever
replacing a published file, records it, and rebuilds only what it touched: one project's
pages, or one conda subdir (incrementally).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from drawbridge.channel.home import Home, check_channel_name
from drawbridge.channel.storage import link_or_copy_new, write_bytes_atomic

PAGES_MARKER = ".pages-pending"


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
        check_channel_name(name)
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                session.add(ChannelRow(name=name, description=description))
        channel_dir = self.home.channel_dir(name)
        (channel_dir / "pypi" / "files").mkdir(parents=True, exist_ok=True)
        with conda_index.channel_lock(channel_dir):
            if not (conda_index.conda_dir(channel_dir) / "noarch" / "repodata.json").exists():
                conda_index.index_conda(channel_dir, conda_index.DEFAULT_SUBDIRS)
                conda_index.write_channeldata(channel_dir, [])
            if not (self.simple_dir(name) / "index.html").exists():
                self._write_root_pages(name)
                pip_view.stamp_pages_format(self.simple_dir(name))

    def names(self) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(select(ChannelRow.name).order_by(ChannelRow.name)))

    def require(self, name: str) -> Path:
        """The channel's folder; UnknownChannel if there is no such channel."""
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                raise UnknownChannel(
                    f"no channel {name!r}; create it with `drawbridge channel create {name}`"
                )
        return self.home.channel_dir(name)

    # -- paths ------------------------------------------------------------------------------

    def files_dir(self, channel: str) -> Path:
        return self.home.channel_dir(channel) / "pypi" / "files"

    def simple_dir(self, channel: str) -> Path:
        return self.home.channel_dir(channel) / "pypi" / "simple"

    def conda_dir(self, channel: str) -> Path:
        return conda_index.conda_dir(self.home.channel_dir(channel))

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
        channel_dir = self.require(channel)
        digests = digest_file(path)
        (expected or ExpectedDigests()).check(filename, digests)
        if is_conda_package(filename):
            return self._publish_conda(channel, channel_dir, path, filename, digests, uploaded_by, index)
        if is_python_distribution(filename):
            info = inspect_distribution(path, filename)
            return self._publish_pypi(channel, channel_dir, path, info, digests, uploaded_by, index)
        raise InvalidDistribution(
            f"{filename}: unsupported file type; publish wheels (.whl), sdists (.tar.gz, .zip) "
            "or conda packages (.conda, .tar.bz2)"
        )

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
        published = list(published)
        projects = {p.project for p in published if p.kind == "pypi"}
        subdirs = {p.subdir for p in published if p.kind == "conda" and p.subdir}
        channel_dir = self.home.channel_dir(channel)
        with conda_index.channel_lock(channel_dir):
            if projects:
                self._write_pages(channel, projects)
            if subdirs:
                self._index_conda_locked(channel, channel_dir, subdirs)

    def _publish_pypi(
        self,
        channel: str,
        channel_dir: Path,
        path: Path,
        info: DistributionInfo,
        digests: FileDigests,
        uploaded_by: str,
        index: bool,
    ) -> PublishedFile:
        target = self.files_dir(channel) / info.filename
        metadata_sha256 = digest_bytes(info.metadata_bytes) if info.metadata_bytes is not None else None

        def write_metadata() -> None:
            if info.metadata_bytes is not None:
                write_bytes_atomic(target.with_name(target.name + ".metadata"), info.metadata_bytes)

        with conda_index.channel_lock(channel_dir):
            self._place_and_record(
                path,
                target,
                select(DistributionRow.id).where(
                    DistributionRow.channel == channel, DistributionRow.filename == info.filename
                ),
                _distribution_row(channel, info, digests, metadata_sha256, uploaded_by),
                f"{info.filename} is already in channel {channel!r}; published files are "
                "immutable: bump the version or the build tag",
                before_record=write_metadata,
            )
            if index:
                self._write_pages(channel, {info.project})
        return PublishedFile(
            channel, info.filename, "pypi", info.project, info.version, digests.sha256
        )

    def _publish_conda(
        self,
        channel: str,
        channel_dir: Path,
        path: Path,
        filename: str,
        digests: FileDigests,
        uploaded_by: str,
        index: bool,
    ) -> PublishedFile:
        info = inspect_conda_package(path, filename)
        target = self.conda_dir(channel) / info.subdir / filename
        row = CondaPackageRow(
            channel=channel,
            subdir=info.subdir,
            filename=filename,
            name=info.name,
            version=info.version,
            build=info.build,
            sha256=digests.sha256,
            size=digests.size,
            uploaded_by=uploaded_by,
        )
        with conda_index.channel_lock(channel_dir):
            self._place_and_record(
                path,
                target,
                select(CondaPackageRow.id).where(
                    CondaPackageRow.channel == channel,
                    CondaPackageRow.subdir == info.subdir,
                    CondaPackageRow.filename == filename,
                ),
                row,
                f"{info.subdir}/{filename} is already in channel {channel!r}; published packages "
                "are immutable: bump the build number",
            )
            if index:
                self._index_conda_locked(channel, channel_dir, {info.subdir})
        return PublishedFile(
            channel, filename, "conda", info.name, info.version, digests.sha256, info.subdir
        )

    def _place_and_record(
        self,
        source: Path,
        target: Path,
        existing: Select,
        row: DistributionRow | CondaPackageRow,
        duplicate_message: str,
        before_record: Callable[[], None] | None = None,
    ) -> None:
        """Place `source` at `target` and record `row`; nothing stays placed if it fails.

        Raises DuplicateFile if `existing` finds a record. Call with the channel lock held.
        """
        with self.db.session() as session:
            if session.scalar(existing):
                raise DuplicateFile(duplicate_message)
            target.unlink(missing_ok=True)  # an orphan of a crash, never recorded
            link_or_copy_new(source, target)
            try:
                if before_record:
                    before_record()
                session.add(row)
                session.flush()
            except BaseException:
                target.unlink(missing_ok=True)
                raise

    # -- indexes ----------------------------------------------------------------------------

    def reindex(self, channel: str, force: bool = False) -> None:
        """Rebuild every index of a channel: all pip pages and all conda subdirs."""
        channel_dir = self.require(channel)
        with conda_index.channel_lock(channel_dir):
            self._write_pages(channel, set(self.projects(channel)))
            self._index_conda_locked(channel, channel_dir, None, force=force)

    def recover(self) -> list[str]:
        """Finish the index runs a crash interrupted, and rewrite pip pages that an older
        Drawbridge wrote in an older format; return the channels that needed either."""
        recovered = []
        for channel in self.names():
            channel_dir = self.home.channel_dir(channel)
            if conda_index.needs_recovery(channel_dir) or (channel_dir / PAGES_MARKER).exists():
                self.reindex(channel, force=True)
                recovered.append(channel)
            elif not pip_view.pages_are_current(self.simple_dir(channel)):
                with conda_index.channel_lock(channel_dir):
                    self._write_pages(channel, set(self.projects(channel)))
                recovered.append(channel)
        return recovered

    def _index_conda_locked(
        self, channel: str, channel_dir: Path, subdirs: set[str] | None, force: bool = False
    ) -> None:
        conda_index.index_conda(channel_dir, subdirs, force=force)
        with self.db.session() as session:
            rows = session.execute(
                select(CondaPackageRow.name, CondaPackageRow.version, CondaPackageRow.subdir).where(
                    CondaPackageRow.channel == channel
                )
            ).all()
        conda_index.write_channeldata(channel_dir, [tuple(row) for row in rows])

    def _write_pages(self, channel: str, projects: set[str]) -> None:
        marker = self.home.channel_dir(channel) / PAGES_MARKER
        write_bytes_atomic(marker, json.dumps(sorted(projects)).encode())
        for project in sorted(projects):
            files = self.project_files(channel, project, missing_ok=True)
            if files:
                pip_view.write_project_pages(self.simple_dir(channel) / project, files)
        self._write_root_pages(channel)
        if projects >= set(self.projects(channel)):
            pip_view.stamp_pages_format(self.simple_dir(channel))
        marker.unlink()

    def _write_root_pages(self, channel: str) -> None:
        pip_view.write_root_pages(self.simple_dir(channel), self.projects(channel))

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
        with conda_index.channel_lock(self.home.channel_dir(channel)):
            self._write_pages(channel, {project})



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
