"""A channel's indexes, written from its database rows and files: pip pages, conda repodata
and channeldata.json.

Every method expects the channel lock held. Each run writes a marker first and removes it
last, so a run a crash interrupts is redone in full (see `recovery`); a run that finds its
marker from an interrupted run also redoes everything. A package rattler refuses is
quarantined by `conda_index` and its database row removed here, so the database never
records a file the indexes leave out.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from drawbridge.channel import conda_index, pip_view, shards
from drawbridge.channel.bases import note_change
from drawbridge.channel.database import CondaPackageRow, Database, DistributionRow
from drawbridge.channel.faults import crash_point
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.publishing import PublishedFile
from drawbridge.channel.quarantine import QuarantinedFile, add_record
from drawbridge.channel.storage import write_bytes_atomic

log = logging.getLogger("drawbridge")


class ChannelIndexes:
    """Writes the indexes of any channel of one database."""

    def __init__(self, database: Database, channels_dir: Path) -> None:
        self.db = database
        self.channels_dir = channels_dir  # where `bases.note_change` tells servers

    def refresh(
        self,
        layout: ChannelLayout,
        projects: Iterable[str],
        subdirs: Iterable[str],
        conda: Sequence[PublishedFile] = (),
    ) -> list[QuarantinedFile]:
        """Rewrite the pages of `projects` and re-index `subdirs` (incrementally). With
        `conda`, the conda files published into (or removed from) those subdirs, only
        their names' shards change (`conda_index.add_to_index`), whatever else the subdirs
        hold."""
        projects, subdirs = set(projects), set(subdirs)
        if projects:
            self.write_pages(layout, projects)
        if subdirs and conda:
            return self.add_conda(layout, subdirs, conda)
        if subdirs:
            return self.index_conda(layout, subdirs)
        return []

    def add_conda(
        self, layout: ChannelLayout, subdirs: set[str], conda: Sequence[PublishedFile]
    ) -> list[QuarantinedFile]:
        """Put `conda` files into (or take them out of) their subdirs' shards; the other
        `subdirs` are indexed by rattler."""
        by_subdir = _by_subdir(conda)
        quarantined: list[QuarantinedFile] = []
        for subdir, files in sorted(by_subdir.items()):
            quarantined += conda_index.add_to_index(layout, subdir, files)
        for refused in quarantined:
            self._forget_conda_file(layout.name, refused)
        rest = subdirs - set(by_subdir)
        if rest:
            quarantined += self.index_conda(layout, rest)
        else:
            note_change(self.channels_dir)
        return quarantined

    @contextmanager
    def conda_ahead(self, layout: ChannelLayout, conda: Sequence[PublishedFile]) -> Iterator[None]:
        """Work out, before `conda` files are placed, the change `add_conda` will make to
        their subdirs' shards (`conda_index.work_ahead`), for the `add_conda` inside this
        block; forgotten after it. A failure here only leaves `add_conda` to do the work."""
        by_subdir = _by_subdir(item for item in conda if item.kind == "conda")
        try:
            for subdir, files in sorted(by_subdir.items()):
                try:
                    conda_index.work_ahead(layout, subdir, files)
                except Exception as error:  # add_conda meets it again and says so
                    log.debug("no shard change worked out ahead in %s: %s", subdir, error)
            yield
        finally:
            for subdir in by_subdir:
                shards.drop_ahead(layout.conda_dir / subdir)

    def rebuild(self, layout: ChannelLayout, force: bool) -> list[QuarantinedFile]:
        """Rewrite every page and index every conda subdir (`force`: re-read every package)."""
        self.write_pages(layout, set(self.projects(layout.name)))
        return self.index_conda(layout, None, force=force)

    # -- conda ------------------------------------------------------------------------------

    def index_conda(
        self, layout: ChannelLayout, subdirs: set[str] | None, force: bool = False
    ) -> list[QuarantinedFile]:
        """Index `subdirs` (None: all) with rattler, drop the rows of packages it refused
        (channeldata.json follows); return the refused packages, now quarantined."""
        quarantined = conda_index.index_conda(layout, subdirs, force=force)
        for item in quarantined:
            self._forget_conda_file(layout.name, item)
        note_change(self.channels_dir)
        return quarantined

    def _forget_conda_file(self, channel: str, item: QuarantinedFile) -> None:
        _conda, subdir, filename = item.path.split("/", 2)
        with self.db.session() as session:
            row = session.scalar(
                select(CondaPackageRow).where(
                    CondaPackageRow.channel == channel,
                    CondaPackageRow.subdir == subdir,
                    CondaPackageRow.filename == filename,
                )
            )
            if row is not None:
                add_record(item, row_record(row))
                session.execute(delete(CondaPackageRow).where(CondaPackageRow.id == row.id))

    # -- pip ----------------------------------------------------------------------------------

    def write_pages(self, layout: ChannelLayout, projects: set[str]) -> None:
        """Rewrite the pages of `projects` and the root pages; a project with no files left
        loses its pages. Everything is rewritten if an earlier run was interrupted."""
        everything = layout.pages_marker.exists()
        if everything:
            projects = (
                projects
                | set(self.projects(layout.name))
                | set(pip_view.page_folders(layout.simple_dir))
            )
        write_bytes_atomic(layout.pages_marker, json.dumps(sorted(projects)).encode())
        crash_point("pages")
        # the root list changes only if a project gains its first file or loses its last
        # (its folder appears or goes): a new version of a listed project leaves it alone,
        # which spares rewriting a list of every project (1.2 s at 100,000)
        relisted = everything or not (layout.simple_dir / "index.html").exists()
        for project in sorted(projects):
            files = self.project_files(layout.name, project)
            listed = (layout.simple_dir / project).is_dir()
            if files:
                pip_view.write_project_pages(layout.simple_dir / project, files)
            elif listed:
                shutil.rmtree(layout.simple_dir / project)
            relisted = relisted or listed != bool(files)
        if relisted:
            self.write_root_pages(layout)
        if projects >= set(self.projects(layout.name)):
            pip_view.stamp_pages_format(layout.simple_dir)
        layout.pages_marker.unlink()
        note_change(self.channels_dir)

    def write_root_pages(self, layout: ChannelLayout) -> None:
        pip_view.write_root_pages(layout.simple_dir, self.projects(layout.name))

    # -- queries ------------------------------------------------------------------------------

    def projects(self, channel: str) -> list[str]:
        """The PEP 503 names of the projects with files in `channel`, sorted by code point
        (in Python: a PostgreSQL collation would order them otherwise)."""
        with self.db.session() as session:
            return sorted(
                session.scalars(
                    select(DistributionRow.project)
                    .where(DistributionRow.channel == channel)
                    .distinct()
                )
            )

    def project_files(self, channel: str, project: str) -> list[DistributionRow]:
        """The files of one project in `channel` (empty if it has none)."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(DistributionRow).where(
                        DistributionRow.channel == channel, DistributionRow.project == project
                    )
                )
            )


def row_record(row: CondaPackageRow | DistributionRow) -> dict[str, Any]:
    """A database row as plain data, for a quarantine's reason file."""
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}


def _by_subdir(
    conda: Iterable[PublishedFile],
) -> dict[str, list[tuple[str, str, dict[str, Any] | None]]]:
    """Conda files as `conda_index` takes them ((filename, name, record)), by subdir."""
    by_subdir: dict[str, list[tuple[str, str, dict[str, Any] | None]]] = {}
    for item in conda:
        record = dict(item.record) if item.record is not None else None
        by_subdir.setdefault(item.subdir or "noarch", []).append(
            (item.filename, item.project, record)
        )
    return by_subdir
