"""A home's channels: create them, publish files into them, keep their indexes current.

`Channels` is the one entry point; each idea behind it has its module: `registry` (which
channels there are: create, bases, mutability, layout), `publishing` (check, intent,
place, record), `indexes` (pages and repodata from the records), `recovery`
(reconcile after a crash), `verify` (re-hash against the records), `quarantine`,
`releases` and `promotion` (copy or move releases between channels, delete them from
volatile ones), `mutability` (which channels let files go).

Publishing checks a file completely before anything is written, places it without ever
replacing a published file, records it, and rebuilds only what it touched: one project's
pages, or one conda subdir (incrementally). A full disk or another OS failure after the
file was recorded unpublishes it again, so the client's error (507, or a clear 5xx) means
nothing was published (`settling`): a 1 MiB reserve file in the home is freed for that,
so the database can record the undoing on a disk full to the last byte, and a publish
starts only with the reserve in place (`storage.require_reserve`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from drawbridge.channel import verify
from drawbridge.channel.database import (
    CondaPackageRow,
    Database,
    DistributionRow,
    PublishIntentRow,
)
from drawbridge.channel.distributions import ExpectedDigests, digest_file
from drawbridge.channel.errors import (
    BatchRefused,
    DuplicateFile,
    InvalidDistribution,
    StorageFailure,
    StorageFull,
    UnknownProject,
)
from drawbridge.channel.events import file_payload, record_event
from drawbridge.channel.home import Home
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.mutability import check_deletion
from drawbridge.channel.promotion import PromotionOutcome, Promoter
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
from drawbridge.channel.registry import ChannelRegistry
from drawbridge.channel.settling import index_or_undo
from drawbridge.channel.releases import ReleaseSpec, release_rows
from drawbridge.channel.storage import (
    remove_stale_incoming,
    require_reserve,
    storage_errors,
    wait_for_releases,
)
from drawbridge.channel.tokens import Identity

__all__ = ["Channels", "PublishedFile", "Provenance", "ReleaseSpec", "PromotionOutcome"]
#: a database record of a file in a channel
FileRow = DistributionRow | CondaPackageRow

log = logging.getLogger("drawbridge")
#: what publishing one file of many may fail with, and the others still be published
REFUSALS = (InvalidDistribution, DuplicateFile, StorageFull, StorageFailure)


class Channels(ChannelRegistry):
    """The channels of one home, backed by its store and database: which there are
    (`ChannelRegistry`), and what is in them."""

    def __init__(self, home: Home, database: Database) -> None:
        super().__init__(home, database)
        self.publisher = Publisher(database, home.root)
        self.promoter = Promoter(home, database, self.indexes, self.publisher)

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
        upload_time: dt.datetime | None = None,
    ) -> tuple[PublishedFile, Placement | None]:
        if "/" in filename or "\\" in filename or filename.startswith("."):
            raise InvalidDistribution(f"{filename!r} is not a plain file name")
        layout = self.layout(channel)
        require_reserve(self.home.root, f"publishing {filename} into {channel!r}")
        with storage_errors(f"publishing {filename} into {channel!r}"):
            staged = stage(path, self.home.incoming_dir, self.home.root)
            try:
                digests = digest_file(staged)
                (expected or ExpectedDigests()).check(filename, digests)
                placement = plan_placement(
                    layout, staged, filename, digests, uploaded_by, provenance
                )
                if upload_time is not None:  # a file carried from another home keeps its time
                    placement.row.upload_time = upload_time
                project = placement.published.project
                # a file of that name already there is published again (the same bytes)
                # or refused as a duplicate: neither adds to the project, so no owner check
                claimed = (
                    uploader is not None
                    and self.publisher.recorded(placement) is None
                    and self.access.claim_project(uploader, channel, project)
                )
                try:
                    ahead = [placement.published] if index else []
                    with self._writing(layout), self.indexes.conda_ahead(layout, ahead):
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
        layout = self.layout(channel)
        with self.db.locks.batch(layout):
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
            with self._writing(layout):
                self._index_or_roll_back(layout, placed, published)
        return published, refused

    def publish_all(
        self,
        channel: str,
        paths: Sequence[Path],
        uploaded_by: str = "",
        provenance: Mapping[Path, Provenance] | None = None,
        expected: Mapping[Path, ExpectedDigests] | None = None,
        upload_times: Mapping[Path, dt.datetime] | None = None,
    ) -> list[PublishedFile]:
        """Publish every file of `paths` or none: as `publish_many`, but the first refusal
        (or any error) unpublishes what this call placed before any index shows it, and
        raises BatchRefused naming the file and the reason. `expected` gives digests a file
        must have and `upload_times` the time it was first published (a bundle's manifest
        carries both), so the pages say what the exporter's said."""
        placed: list[Placement] = []
        published: list[PublishedFile] = []
        layout = self.layout(channel)
        with self.db.locks.batch(layout):
            try:
                for path in paths:
                    made = (provenance or {}).get(path, UPLOADED)
                    want = (expected or {}).get(path)
                    try:
                        item, placement = self._publish(
                            channel,
                            path,
                            path.name,
                            uploaded_by,
                            want,
                            False,
                            provenance=made,
                            upload_time=(upload_times or {}).get(path),
                        )
                    except REFUSALS as error:
                        raise BatchRefused(
                            f"{path.name} was refused by channel {channel!r}: {error}; nothing "
                            "of the batch was published"
                        ) from error
                    published.append(item)
                    placed += [placement] if placement else []
            except BaseException:
                self.publisher.roll_back(placed)
                raise
            with self._writing(layout):
                self._index_or_roll_back(layout, placed, published)
        return published

    def refresh(self, channel: str, published: Iterable[PublishedFile]) -> None:
        """Rebuild the pages and repodata that `published` files touched."""
        layout = self.home.channel(channel)
        with self._writing(layout):
            self._index_or_roll_back(layout, [], list(published))

    @contextmanager
    def _writing(self, layout: ChannelLayout) -> Iterator[None]:
        """Hold the channel's lock for a write, first settling what a writer that died
        holding it left (intents, index markers): one home's servers recover on start, and
        this is how a server finds that another one, sharing the home, was killed midway.
        Recorded intents of a publish of many files still under way (it shares the batches
        lock) are that publish's own, so nothing is settled while one runs."""
        with self.db.locks.channel(layout):
            marked = layout.indexing_marker.exists() or layout.pages_marker.exists()
            if marked or self._has_intents(layout.name):
                alone = self.db.locks.no_batch(layout)
                if alone is not None:
                    try:
                        for line in reconcile(self.db, self.indexes, layout).lines():
                            log.warning("%s (left by a writer that died)", line)
                    finally:
                        alone.release()
            try:
                yield
            finally:
                wait_for_releases()  # the old index files this write set aside

    def _has_intents(self, channel: str) -> bool:
        """Whether any publish intent of `channel` is there (under its lock: a crash's, or a
        batch's)."""
        with self.db.session() as session:
            found = session.scalar(
                select(PublishIntentRow.id).where(PublishIntentRow.channel == channel).limit(1)
            )
        return found is not None

    def _index_or_roll_back(
        self, layout: ChannelLayout, placed: Sequence[Placement], published: Sequence[PublishedFile]
    ) -> None:
        """Index what `published` touched; unpublish `placed` if that fails (`settling`)."""
        index_or_undo(self.indexes, self.publisher, self.home.root, layout, placed, published)

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
        require_reserve(self.home.root, f"promoting into channel {target!r}")
        promotion = self.promoter.begin(source, target, rows, move, user, comment, also_record)
        return self.promoter.run(promotion)

    def delete(
        self, channel: str, rows: Sequence[FileRow], also_record: Sequence[object] = ()
    ) -> list[PublishedFile]:
        """Remove `rows`' files from a volatile channel and rewrite its indexes;
        RemovalRefused for any other channel. `also_record` is committed with the removal."""
        check_deletion(channel, self.mutability(channel))
        layout = self.layout(channel)
        with self._writing(layout), storage_errors(f"deleting from channel {channel!r}"):
            return self.promoter.remove(layout, rows, also_record)

    def finish_promotions(self) -> list[str]:
        """Run again every promotion a crash left unfinished; one line for each."""
        return self.promoter.finish_pending()

    # -- indexes ----------------------------------------------------------------------------

    def reindex(self, channel: str, force: bool = False) -> Reconciliation:
        """Reconcile a channel after any crash, then rebuild every index of it: all pip
        pages and all conda subdirs. Packages rattler refuses are quarantined and named."""
        layout = self.layout(channel)
        with self.db.locks.channel(layout), storage_errors(f"indexing channel {channel!r}"):
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
            with self.db.locks.channel(layout):
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
            with self.db.locks.channel(layout), storage_errors(f"verifying channel {channel!r}"):
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

    def conda_names(self, channel: str) -> list[tuple[str, str]]:
        """Each conda package name and version channel `channel` serves from this home (its
        own and its bases' here; not upstream mirrors'), once each: the names a bridge run
        into it keeps."""
        levels = [level.name for level in self.levels(channel) if not level.upstream]
        with self.db.session() as session:
            rows = session.execute(
                select(CondaPackageRow.name, CondaPackageRow.version)
                .where(CondaPackageRow.channel.in_(levels))
                .distinct()
            )
            return sorted((name, version) for name, version in rows)

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
            payload = file_payload(
                "pypi", filename, project, row.version, row.sha256, None, reason=reason
            )
            record_event(session, "unyanked" if undo else "yanked", channel, filename, payload)
        layout = self.home.channel(channel)
        with self._writing(layout), storage_errors(f"rewriting the pages of {project!r}"):
            self.indexes.write_pages(layout, {project})
