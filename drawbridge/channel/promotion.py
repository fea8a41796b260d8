"""Promotion: a channel's files copied (or moved) byte for byte into another channel, with a
promotion row that makes a crash harmless, and removal of files from a channel.

`begin` checks the whole promotion before anything changes (the source may let files go,
the target holds no other bytes under their names) and records it, with the caller's
audit row, in one transaction. `run` then copies each file (a hard link of the source's,
its sha256 checked) through the publishing intents, indexes the target, copies the
releases' hosted docs (`hosted_docs`), and for a move removes the files from the source
the same way a deletion does (`Publisher.remove`; the docs stay in the source).
Each step is idempotent: a file already in the target with the same bytes is skipped, one
already gone from the source is not removed again. So a crash anywhere is repaired by
running the promotion again, which `Channels.recover` does for every promotion row left
behind (after settling the intents), and a second `promote` of the same releases is a
success that changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import delete, select

from drawbridge.channel.database import (
    CondaPackageRow,
    Database,
    DistributionRow,
    PromotionRow,
)
from drawbridge.channel.distributions import digest_file
from drawbridge.channel.errors import ChannelError, DuplicateFile
from drawbridge.channel.events import EventKind
from drawbridge.channel.faults import crash_point
from drawbridge.channel.home import Home
from drawbridge.channel.hosted_docs import DocsStore
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.mutability import check_move_out, mutability_of
from drawbridge.channel.publishing import PublishedFile, Publisher, copy_placement, stage
from drawbridge.channel.releases import ChannelFile, channel_file, find_row
from drawbridge.channel.storage import storage_errors


class PromotionFailure(ChannelError):
    """A promotion cannot be carried out as recorded (its source changed or is damaged)."""


@dataclass(frozen=True)
class PromotionOutcome:
    """What one promotion did: files copied, found already there, removed from the source."""

    source: str
    target: str
    move: bool
    copied: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass
class _Progress:
    copied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    releases: set[tuple[str, str]] = field(default_factory=set)  # (project, version)


class Promoter:
    """Promotes recorded files between the channels of one home, and removes files."""

    def __init__(
        self, home: Home, database: Database, indexes: ChannelIndexes, publisher: Publisher
    ) -> None:
        self.home = home
        self.db = database
        self.indexes = indexes
        self.publisher = publisher

    def begin(
        self,
        source: str,
        target: str,
        rows: Sequence[DistributionRow | CondaPackageRow],
        move: bool,
        user: str,
        comment: str,
        also_record: Sequence[object] = (),
    ) -> int:
        """Check and record a promotion of `rows` (records of `source`); return its id.
        RemovalRefused for a move out of an immutable channel, DuplicateFile (naming every
        clash) if the target has other bytes under one of the names."""
        if source == target:
            raise PromotionFailure(
                f"promoting from {source!r} into itself does nothing; name another target"
            )
        if move:
            check_move_out(source, mutability_of(self.db, source))
        mutability_of(self.db, target)
        files = [channel_file(row) for row in rows]
        with self.db.session() as session:
            clashes = [
                item.path
                for item in files
                if (there := find_row(session, target, item)) is not None
                and there.sha256 != item.sha256
            ]
            if clashes:
                raise DuplicateFile(
                    f"channel {target!r} already has other bytes under {', '.join(clashes)}; "
                    "published files are never replaced: promote another version, or delete "
                    "those files from the target first if it is volatile"
                )
            promotion = PromotionRow(
                source=source,
                target=target,
                move=move,
                files=[item.as_json() for item in files],
                user=user,
                comment=comment,
            )
            session.add(promotion)
            session.add_all(also_record)
            session.flush()
            promotion_id = promotion.id
        crash_point("promoting")
        return promotion_id

    def pending(self) -> list[int]:
        """The promotions a crash (or a failure) left unfinished, oldest first."""
        with self.db.session() as session:
            return list(session.scalars(select(PromotionRow.id).order_by(PromotionRow.id)))

    def finish_pending(self) -> list[str]:
        """Run again every promotion a crash left unfinished; one line for each. One that
        can no longer be carried out (its source lost the files, its target got other bytes
        under their names) is abandoned, what it copied staying; one that fails otherwise
        (a full disk) is left for the next start."""
        said = []
        for promotion in self.pending():
            try:
                outcome = self.run(promotion)
            except (PromotionFailure, DuplicateFile) as error:
                self.abandon(promotion)
                said.append(f"promotion {promotion} abandoned: {error}")
                continue
            except ChannelError as error:
                said.append(
                    f"promotion {promotion} not finished, tried again on the next start: {error}"
                )
                continue
            said.append(
                f"promotion {outcome.source} → {outcome.target} finished after a crash: "
                f"{len(outcome.copied)} file(s) copied, {len(outcome.removed)} removed"
            )
        return said

    def abandon(self, promotion_id: int) -> None:
        """Forget a promotion: finished, or one that cannot be (what it copied stays)."""
        with self.db.session() as session:
            session.execute(delete(PromotionRow).where(PromotionRow.id == promotion_id))

    def run(self, promotion_id: int) -> PromotionOutcome:
        """Carry out (or finish) a recorded promotion, then forget it (see the module)."""
        with self.db.session() as session:
            promotion = session.get(PromotionRow, promotion_id)
        if promotion is None:
            raise PromotionFailure(f"no promotion {promotion_id} is under way")
        files = [ChannelFile(**item) for item in promotion.files]
        source, target = self.home.channel(promotion.source), self.home.channel(promotion.target)
        progress = _Progress()
        with storage_errors(f"promoting into channel {target.name!r}"):
            self._copy(source, target, files, progress)
            DocsStore(self.home, self.db).copy(source.name, target.name, progress.releases)
            if promotion.move:
                self._remove_moved(source, target.name, files, progress)
        self.abandon(promotion_id)  # done: forget it (another process may have already)
        return PromotionOutcome(
            promotion.source,
            promotion.target,
            promotion.move,
            tuple(progress.copied),
            tuple(progress.already),
            tuple(progress.removed),
        )

    def _copy(
        self,
        source: ChannelLayout,
        target: ChannelLayout,
        files: list[ChannelFile],
        progress: _Progress,
    ) -> None:
        published: list[PublishedFile] = []
        with self.db.locks.channel(target):
            for item in files:
                with self.db.session() as session:
                    there = find_row(session, target.name, item)
                    row = find_row(session, source.name, item)
                if isinstance(row, DistributionRow):
                    progress.releases.add((row.project, row.version))
                if there is not None and there.sha256 == item.sha256:
                    progress.already.append(item.path)
                    continue
                if row is None or row.sha256 != item.sha256:
                    raise PromotionFailure(
                        f"{item.path} is no longer in channel {source.name!r} with the bytes "
                        f"the promotion recorded (sha256 {item.sha256}); promote it again"
                    )
                published.append(self._copy_one(source, target, row))
                progress.copied.append(item.path)
                crash_point("promoted")
            projects = {p.project for p in published if p.kind == "pypi"}
            subdirs = {p.subdir for p in published if p.kind == "conda" and p.subdir}
            self.indexes.refresh(target, projects, subdirs)
            self.publisher.finish(target, published)

    def _copy_one(
        self,
        source: ChannelLayout,
        target: ChannelLayout,
        row: DistributionRow | CondaPackageRow,
    ) -> PublishedFile:
        """One file into `target`: staged as a hard link of the source's, hash checked."""
        item = channel_file(row)
        staged = stage(source.root / item.path, self.home.incoming_dir, self.home.root)
        try:
            if digest_file(staged).sha256 != row.sha256:
                raise PromotionFailure(
                    f"{item.path} in channel {source.name!r} does not match its recorded "
                    f"sha256; run `drawbridge verify --channel {source.name}`, which "
                    "quarantines it"
                )
            metadata = None
            if isinstance(row, DistributionRow) and row.metadata_sha256:
                metadata = (source.files_dir / f"{row.filename}.metadata").read_bytes()
            placement = replace(
                copy_placement(target, staged, row, metadata),
                event="promoted",
                event_detail={"source": source.name},
            )
            return self.publisher.place_and_record(placement)
        finally:
            staged.unlink(missing_ok=True)

    def _remove_moved(
        self, source: ChannelLayout, target: str, files: list[ChannelFile], progress: _Progress
    ) -> None:
        with self.db.locks.channel(source):
            with self.db.session() as session:
                rows = [
                    row
                    for item in files
                    if (row := find_row(session, source.name, item)) is not None
                    and row.sha256 == item.sha256
                ]
            self.remove(source, rows, event="moved", event_detail={"target": target})
            progress.removed += [channel_file(row).path for row in rows]

    def remove(
        self,
        layout: ChannelLayout,
        rows: Sequence[DistributionRow | CondaPackageRow],
        also_record: Sequence[object] = (),
        event: EventKind = "deleted",
        event_detail: dict[str, object] | None = None,
    ) -> list[PublishedFile]:
        """Unrecord and remove `rows`' files (an `event` for each), then rewrite the indexes
        they were in. Call with the channel lock held."""
        if not rows and not also_record:
            return []
        removed = self.publisher.remove(layout, rows, also_record, event, event_detail)
        projects = {p.project for p in removed if p.kind == "pypi"}
        subdirs = {p.subdir for p in removed if p.kind == "conda" and p.subdir}
        self.indexes.refresh(layout, projects, subdirs)
        self.publisher.finish(layout, removed)
        return removed
