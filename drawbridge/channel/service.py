"""A home's channels: create them, publish files into them, keep their indexes current.

`Channels` is the one entry point; each idea behind it has its module: `publishing` (check,
intent, place, record), `indexes` (pages and repodata from the records), `recovery`
(reconcile after a crash), `verify` (re-hash against the records), `quarantine`,
`releases` and `promotion` (copy or move releases between channels, delete them from
volatile ones), `mutability` (which channels let files go).

Publishing checks a file completely before anything is written, places it without ever
replacing a published file, records it, and rebuilds only what it touched: one project's
pages, or one conda subdir (incrementally). A full disk or another OS failure after the
file was recorded unpublishes it again, so the client's error (507, or a clear 5xx) means
nothing was published; a 1 MiB reserve file in the home (`storage.ensure_reserve`) is
freed for that, so the database can record the undoing on a disk full to the last byte.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from drawbridge.channel import bases as channel_bases
from drawbridge.channel import conda_index, pip_view, verify
from drawbridge.channel.bases import Level
from drawbridge.channel.access import Access
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.database import ChannelRow, CondaPackageRow, Database, DistributionRow
from drawbridge.channel.distributions import ExpectedDigests, digest_file
from drawbridge.channel.errors import (
    DuplicateFile,
    IndexFailure,
    InvalidDistribution,
    InvalidName,
    StorageFailure,
    StorageFull,
    UnknownChannel,
    UnknownProject,
)
from drawbridge.channel.home import Home
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.mutability import Mutability, check_change, check_deletion
from drawbridge.channel.promotion import PromotionOutcome, Promoter, mutability_of
from drawbridge.channel.publishing import (
    UPLOADED,
    Placement,
    Provenance,
    PublishedFile,
    Publisher,
    plan_placement,
    stage,
)
from drawbridge.channel.recovery import Reconciliation, reconcile
from drawbridge.channel.releases import ReleaseSpec, release_rows
from drawbridge.channel.upstream_conda import upstream_channels
from drawbridge.channel.storage import (
    ensure_reserve,
    remove_stale_incoming,
    reserve_released,
    storage_errors,
)
from drawbridge.channel.tokens import Identity

__all__ = ["Channels", "PublishedFile", "Provenance", "ReleaseSpec", "PromotionOutcome"]
#: a database record of a file in a channel
FileRow = DistributionRow | CondaPackageRow

log = logging.getLogger("drawbridge")
#: what publishing one file of many may fail with, and the others still be published
REFUSALS = (InvalidDistribution, DuplicateFile, StorageFull, StorageFailure)


class Channels:
    """The channels of one home, backed by its store and database."""

    def __init__(self, home: Home, database: Database) -> None:
        self.home = home
        self.db = database
        self.indexes = ChannelIndexes(database, home.channels_dir)
        self.publisher = Publisher(database)
        self.promoter = Promoter(home, database, self.indexes, self.publisher)
        #: who may read, upload to and review each channel (`channel.access`)
        self.access = Access(home.root, database, home.server.anonymous_read)

    # -- channels -------------------------------------------------------------------------

    def create(
        self,
        name: str,
        description: str = "",
        permissions: ChannelPermissions | None = None,
        mutability: Mutability = Mutability.standard,
        *,
        bases: Sequence[str] = (),
    ) -> None:
        """Create channel `name` (`name` or `owner/name`), or complete one a crash left
        half-made; with `permissions`, set the lists they give (see `channel.access`); with
        `bases`, set its bases (as `set_bases`) in the same transaction.
        InvalidName if an owner would also be a plain channel."""
        layout = self.home.channel(name)
        with self.db.session() as session:
            if session.get(ChannelRow, name) is None:
                _check_owner_clash(session, name)
                session.add(
                    ChannelRow(name=name, description=description, mutability=mutability.value)
                )
                session.flush()
            if bases:
                channel_bases.set_bases(
                    session, name, [channel_bases.parse_base(b) for b in bases], self._mirrors()
                )
        if bases:
            channel_bases.touch_stamp(self.home.channels_dir)
        if permissions is not None and permissions != ChannelPermissions():
            self.access.set_permissions(name, **permissions.as_dict())
        layout.files_dir.mkdir(parents=True, exist_ok=True)
        with layout.lock():
            if not (layout.conda_dir / "noarch" / "repodata.json").exists():
                conda_index.index_conda(layout, conda_index.CHANNEL_SUBDIRS)
                conda_index.write_channeldata(layout, [])
            if not (layout.simple_dir / "index.html").exists():
                self.indexes.write_root_pages(layout)
                pip_view.stamp_pages_format(layout.simple_dir)
        channel_bases.note_change(self.home.channels_dir)

    def set_bases(self, name: str, bases: Sequence[str]) -> None:
        """Make `bases` (channel names or `upstream:<mirror>`, nearest first) the bases of
        channel `name`; an empty list makes it flat. UnknownChannel, InvalidName or
        BaseCycle (naming the cycle) if they cannot be its bases; nothing changes then."""
        with self.db.session() as session:
            channel_bases.set_bases(
                session, name, [channel_bases.parse_base(b) for b in bases], self._mirrors()
            )
        channel_bases.touch_stamp(self.home.channels_dir)

    def bases(self) -> dict[str, list[Level]]:
        """Every channel that has bases, with its bases in order."""
        with self.db.session() as session:
            return channel_bases.bases_by_channel(session)

    def levels(self, name: str) -> list[Level]:
        """What channel `name` serves, nearest first: itself, then its bases' levels."""
        return channel_bases.levels_of(name, self.bases())

    def _mirrors(self) -> list[str]:
        return list(upstream_channels(self.home.bridge.upstream_conda))

    def mutability(self, name: str) -> Mutability:
        """Whether files may leave channel `name` (`mutability`); UnknownChannel if none."""
        return mutability_of(self.db, name)

    def set_mutability(self, name: str, mutability: Mutability) -> None:
        """Make a channel standard, immutable or volatile; an immutable one stays so."""
        check_change(name, self.mutability(name), mutability)
        with self.db.session() as session:
            row = session.get(ChannelRow, name)
            assert row is not None
            row.mutability = mutability.value

    def names(self) -> list[str]:
        """Every channel's name, sorted by code point (as on every database: PostgreSQL's
        collations would sort `a-b` after `ab`)."""
        with self.db.session() as session:
            return sorted(session.scalars(select(ChannelRow.name)))

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
        uploader: Identity | None = None,
        provenance: Provenance = UPLOADED,
    ) -> PublishedFile:
        """Check and publish one file; with `index`, refresh the indexes it touches.
        `provenance` says where a conda package came from (an upload, by default).

        The same bytes published again are a success (`already_published`); other bytes
        under a published name are DuplicateFile. StorageFull or StorageFailure mean
        nothing was published. With `uploader` (an upload over HTTP), project ownership
        applies: PermissionDenied if the project is another's (`Access.claim_project`).
        """
        return self._publish(
            channel,
            path,
            filename or path.name,
            uploaded_by,
            expected,
            index,
            uploader,
            provenance,
        )[0]

    def _publish(
        self,
        channel: str,
        path: Path,
        filename: str,
        uploaded_by: str,
        expected: ExpectedDigests | None,
        index: bool,
        uploader: Identity | None = None,
        provenance: Provenance = UPLOADED,
    ) -> tuple[PublishedFile, Placement | None]:
        if "/" in filename or "\\" in filename or filename.startswith("."):
            raise InvalidDistribution(f"{filename!r} is not a plain file name")
        layout = self.layout(channel)
        ensure_reserve(self.home.root)
        with storage_errors(f"publishing {filename} into {channel!r}"):
            staged = stage(path, self.home.incoming_dir, self.home.root)
            try:
                digests = digest_file(staged)
                (expected or ExpectedDigests()).check(filename, digests)
                placement = plan_placement(
                    layout, staged, filename, digests, uploaded_by, provenance
                )
                project = placement.published.project
                # a file of that name already there is published again (the same bytes)
                # or refused as a duplicate: neither adds to the project, so no owner check
                claimed = (
                    uploader is not None
                    and self.publisher.recorded(placement) is None
                    and self.access.claim_project(uploader, channel, project)
                )
                try:
                    with layout.lock():
                        published = self.publisher.place_and_record(placement)
                        placed = [] if published.already_published else [placement]
                        if index:
                            self._index_or_roll_back(layout, placed, [published])
                except BaseException:
                    if claimed:
                        self.access.release_project(channel, project)
                    raise
            finally:
                staged.unlink(missing_ok=True)
        return published, (placed[0] if placed else None)

    def publish_many(
        self,
        channel: str,
        paths: Sequence[Path],
        uploaded_by: str = "",
        provenance: Mapping[Path, Provenance] | None = None,
    ) -> tuple[list[PublishedFile], list[tuple[Path, str]]]:
        """Publish several files, refreshing each touched index once at the end; a conda
        package's provenance is looked up in `provenance` (an upload if it is not there).

        Returns what was published (or already was) and, for each file refused, its path
        and the reason. If the final indexing fails on a full disk, every file this call
        placed is unpublished again and StorageFull raised.
        """
        published: list[PublishedFile] = []
        placed: list[Placement] = []
        refused: list[tuple[Path, str]] = []
        for path in paths:
            try:
                made = (provenance or {}).get(path, UPLOADED)
                item, placement = self._publish(
                    channel, path, path.name, uploaded_by, None, False, provenance=made
                )
            except REFUSALS as error:
                refused.append((path, str(error)))
                continue
            published.append(item)
            placed += [placement] if placement else []
        layout = self.home.channel(channel)
        with layout.lock():
            self._index_or_roll_back(layout, placed, published)
        return published, refused

    def refresh(self, channel: str, published: Iterable[PublishedFile]) -> None:
        """Rebuild the pages and repodata that `published` files touched."""
        layout = self.home.channel(channel)
        with layout.lock():
            self._index_or_roll_back(layout, [], list(published))

    def _index_or_roll_back(
        self, layout: ChannelLayout, placed: Sequence[Placement], published: Sequence[PublishedFile]
    ) -> None:
        """Index what `published` touched, then drop their intents. If the disk fills (or
        the indexer fails) on the way, unpublish `placed` and rewrite what was touched, as
        far as the disk allows (a marker left behind makes the next run finish the job)."""
        projects = {p.project for p in published if p.kind == "pypi"}
        subdirs = {p.subdir for p in published if p.kind == "conda" and p.subdir}
        try:
            with storage_errors(f"indexing channel {layout.name!r}"):
                for item in self.indexes.refresh(layout, projects, subdirs):
                    log.warning("quarantined %s", item)
        except (StorageFull, StorageFailure, IndexFailure):
            # best effort: the original error is what the caller needs; what cannot be undone
            # stays recorded with its intent, and the next recovery indexes it
            undoing = storage_errors(f"unpublishing from channel {layout.name!r}")
            with suppress(Exception), reserve_released(self.home.root), undoing:
                self.publisher.roll_back(placed)
                self.indexes.refresh(layout, projects, subdirs)
            raise
        self.publisher.finish(layout, published)

    # -- promotion and deletion --------------------------------------------------------------

    def release_rows(self, channel: str, specs: Sequence[ReleaseSpec]) -> list[FileRow]:
        """The records of the releases `specs` in `channel` (`releases`), each file once;
        UnknownProject naming the first release the channel lacks."""
        self.layout(channel)
        with self.db.session() as session:
            found = [row for spec in specs for row in release_rows(session, channel, spec)]
        unique = {(type(row).__name__, row.id): row for row in found}
        return list(unique.values())

    def promote(
        self,
        source: str,
        target: str,
        rows: Sequence[FileRow],
        move: bool,
        user: str,
        comment: str,
        also_record: Sequence[object] = (),
    ) -> PromotionOutcome:
        """Copy (or move) `rows`' files from `source` into `target`, byte for byte, and
        index both; `also_record` (the audit row) is committed with the promotion's record.
        Crash-safe and idempotent (`promotion`)."""
        ensure_reserve(self.home.root)
        promotion = self.promoter.begin(source, target, rows, move, user, comment, also_record)
        return self.promoter.run(promotion)

    def delete(
        self, channel: str, rows: Sequence[FileRow], also_record: Sequence[object] = ()
    ) -> list[PublishedFile]:
        """Remove `rows`' files from a volatile channel and rewrite its indexes;
        RemovalRefused for any other channel. `also_record` is committed with the removal."""
        check_deletion(channel, self.mutability(channel))
        layout = self.layout(channel)
        with layout.lock(), storage_errors(f"deleting from channel {channel!r}"):
            return self.promoter.remove(layout, rows, also_record)

    def finish_promotions(self) -> list[str]:
        """Run again every promotion a crash left unfinished; one line for each."""
        return self.promoter.finish_pending()

    # -- indexes ----------------------------------------------------------------------------

    def reindex(self, channel: str, force: bool = False) -> Reconciliation:
        """Reconcile a channel after any crash, then rebuild every index of it: all pip
        pages and all conda subdirs. Packages rattler refuses are quarantined and named."""
        layout = self.layout(channel)
        with layout.lock(), storage_errors(f"indexing channel {channel!r}"):
            return reconcile(self.db, self.indexes, layout, rebuild=True, force=force)

    def recover(self, incoming_stale_after: float = 3600.0) -> list[Reconciliation]:
        """Reconcile every channel (`recovery`), remove uploads a crash left in `incoming/`
        (untouched for `incoming_stale_after` seconds), and return what was done for each
        channel that needed anything.

        The markers and intents are read with the channel lock held: seen without it, they
        may belong to a run another process is doing right now, not to a crash.
        """
        remove_stale_incoming(self.home.incoming_dir, incoming_stale_after)
        done = []
        for channel in self.names():
            layout = self.home.channel(channel)
            with layout.lock():
                outcome = reconcile(self.db, self.indexes, layout)
            if outcome.changed:
                done.append(outcome)
        for line in self.finish_promotions():
            log.warning("%s", line)
        return done

    def verify(self, channel: str) -> verify.VerifyReport:
        """Re-hash every recorded file of `channel`; quarantine (and unrecord) each that
        does not match, rewrite damaged .metadata files, and refresh the indexes."""
        layout = self.layout(channel)
        report = verify.VerifyReport(channel)
        suspects = verify.suspects(self.db, layout, report)
        if suspects:
            with layout.lock(), storage_errors(f"verifying channel {channel!r}"):
                verify.settle(self.db, layout, suspects, report)
                self.indexes.refresh(layout, report.projects, report.subdirs)
        return report

    # -- queries ----------------------------------------------------------------------------

    def projects(self, channel: str) -> list[str]:
        return self.indexes.projects(channel)

    def project_files(
        self, channel: str, project: str, missing_ok: bool = False
    ) -> list[DistributionRow]:
        rows = self.indexes.project_files(channel, project)
        if not rows and not missing_ok:
            raise UnknownProject(f"no project {project!r} in channel {channel!r}")
        return rows

    def inherited_project_files(
        self, channel: str, project: str, readable: Sequence[str] | None = None
    ) -> list[DistributionRow]:
        """The files of one project as channel `channel` serves it: its own and its bases'
        (those in `readable`, if given), the nearest level's file winning for a name;
        UnknownProject if no level has any."""
        chosen: dict[str, DistributionRow] = {}
        for level in self.levels(channel):
            if not level.upstream and (readable is None or level.name in readable):
                for row in self.indexes.project_files(level.name, project):
                    chosen.setdefault(row.filename, row)
        if not chosen:
            raise UnknownProject(f"no project {project!r} in channel {channel!r} or its bases")
        return list(chosen.values())

    def has_file(self, channel: str, filename: str, made: Provenance | None = None) -> bool:
        """True if the channel already holds a file of that name (pip or conda view); with
        `made`, only a conda package made that way (a recipe build of the same sdist)."""
        with self.db.session() as session:
            if made is not None:
                return (
                    session.scalar(
                        select(CondaPackageRow.id).where(
                            CondaPackageRow.channel == channel,
                            CondaPackageRow.filename == filename,
                            CondaPackageRow.made_how == made.how,
                            CondaPackageRow.made_from == made.made_from,
                        )
                    )
                    is not None
                )
            for row_type in (DistributionRow, CondaPackageRow):
                if session.scalar(
                    select(row_type.id).where(
                        row_type.channel == channel, row_type.filename == filename
                    )
                ):
                    return True
        return False

    def conda_packages(self, channel: str) -> list[CondaPackageRow]:
        with self.db.session() as session:
            rows = session.scalars(
                select(CondaPackageRow).where(CondaPackageRow.channel == channel)
            )
            return sorted(rows, key=lambda row: (row.name, row.subdir, row.filename))

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
        with layout.lock(), storage_errors(f"rewriting the pages of {project!r}"):
            self.indexes.write_pages(layout, {project})


def _check_owner_clash(session: Session, name: str) -> None:
    """InvalidName if `name` would make an owner also a plain channel: `company/dev` while a
    channel `company` exists, or `company` while `company/...` do (one folder each)."""
    owner, slash, _ = name.partition("/")
    if slash:
        if session.get(ChannelRow, owner) is not None:
            raise InvalidName(
                f"cannot create {name!r}: {owner!r} is a channel, and an owner cannot also be "
                f"a channel; choose another owner than {owner!r}"
            )
        return
    owned = session.scalar(
        select(ChannelRow.name).where(ChannelRow.name.startswith(f"{name}/", autoescape=True))
    )
    if owned is not None:
        raise InvalidName(
            f"cannot create {name!r}: it owns channels ({owned!r}), and an owner cannot also be "
            "a channel; choose another name"
        )
