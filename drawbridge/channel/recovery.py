"""Reconcile a channel's store, database and indexes after a crash, a full disk or an upgrade.

Run with the channel lock held, on server start (`Channels.recover`) and by
`drawbridge index`. In order:

- temporary files a killed write left (`.<name>.<random>.tmp`) are removed;
- each publish intent a crash left is settled: "placing" means the file was never
  recorded, so whatever it placed is removed (an orphan); "recorded" means the file is in
  the database but perhaps in no index, so its project or subdir is indexed; "removed"
  means the file was unrecorded (a move or a deletion), so it goes and its indexes follow;
- an index run a crash interrupted (its marker is there) is redone in full; pages of an
  older format, or a project page without its twins, are rewritten;
- shards no index names any more, older than `shards.SHARD_GRACE`, are removed: those a
  process retired and had not removed yet when it ended (`shards._Retired`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select

from drawbridge.channel import conda_index, pip_view, shards
from drawbridge.channel.database import Database, PublishIntentRow
from drawbridge.channel.indexes import ChannelIndexes
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.quarantine import QuarantinedFile
from drawbridge.channel.storage import remove_temporaries

log = logging.getLogger("drawbridge")


@dataclass
class Reconciliation:
    """What reconciling one channel found and did."""

    channel: str
    temporaries: list[Path] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # placed, never recorded: removed
    indexed: list[str] = field(default_factory=list)  # recorded, perhaps not indexed: indexed
    removed: list[str] = field(default_factory=list)  # unrecorded, perhaps still there: removed
    dropped_intents: int = 0
    reindexed: bool = False  # an interrupted index run redone in full
    repaired_pages: list[str] = field(default_factory=list)
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    #: shards no index names, past their grace: housekeeping, not a crash's (`changed`)
    old_shards: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything needed doing."""
        return bool(
            self.temporaries
            or self.orphans
            or self.indexed
            or self.removed
            or self.dropped_intents
            or self.reindexed
            or self.repaired_pages
            or self.quarantined
        )

    def lines(self) -> list[str]:
        """One line per thing done, for the log and the command line."""
        said = (
            [
                f"channel {self.channel}: {len(self.temporaries)} temporary file(s) of a crash "
                "removed"
            ]
            if self.temporaries
            else []
        )
        said += [
            f"channel {self.channel}: removed {path}, placed by a publish that crashed before "
            "recording it"
            for path in self.orphans
        ]
        said += [
            f"channel {self.channel}: indexed {path}, recorded by a publish that crashed before "
            "indexing it"
            for path in self.indexed
        ]
        said += [
            f"channel {self.channel}: removed {path}, unrecorded by a move or deletion that "
            "crashed before removing it"
            for path in self.removed
        ]
        if self.reindexed:
            said.append(
                f"channel {self.channel}: indexes rebuilt (an interrupted index run, or pages of "
                "an older format)"
            )
        if self.repaired_pages:
            said.append(
                f"channel {self.channel}: pages rewritten for {', '.join(self.repaired_pages)} "
                "(some were missing)"
            )
        said += [f"quarantined {item}" for item in self.quarantined]
        return said


def reconcile(
    database: Database,
    indexes: ChannelIndexes,
    layout: ChannelLayout,
    rebuild: bool = False,
    force: bool = False,
) -> Reconciliation:
    """Bring one channel's files, records and indexes back into agreement (see the module);
    with `rebuild`, rewrite every index afterwards (`force`: re-read every package)."""
    outcome = Reconciliation(layout.name, temporaries=remove_temporaries(layout.root))
    projects, subdirs = _settle_intents(database, layout, outcome)
    interrupted = conda_index.needs_recovery(layout) or layout.pages_marker.exists()
    if rebuild or interrupted:
        outcome.quarantined += indexes.rebuild(layout, force=force or interrupted)
        outcome.reindexed = interrupted
    else:
        incomplete = set(pip_view.incomplete_pages(layout.simple_dir))
        if not pip_view.pages_are_current(layout.simple_dir):
            indexes.write_pages(layout, set(indexes.projects(layout.name)))
            outcome.reindexed = True
        elif projects or incomplete:
            indexes.write_pages(layout, projects | incomplete)
        outcome.repaired_pages = sorted(incomplete)
        if subdirs:
            outcome.quarantined += indexes.index_conda(layout, subdirs)
        outcome.old_shards = _remove_old_shards(layout)
    with database.session() as session:
        session.execute(delete(PublishIntentRow).where(PublishIntentRow.channel == layout.name))
    return outcome


def _settle_intents(
    database: Database, layout: ChannelLayout, outcome: Reconciliation
) -> tuple[set[str], set[str]]:
    """Remove what unrecorded intents placed; return the projects and subdirs that recorded
    ones touched (to index). The intents are deleted once the indexes are written."""
    with database.session() as session:
        intents = list(
            session.scalars(select(PublishIntentRow).where(PublishIntentRow.channel == layout.name))
        )
    projects: set[str] = set()
    subdirs: set[str] = set()
    for intent in intents:
        outcome.dropped_intents += 1
        if intent.state == "recorded":
            (subdirs if intent.kind == "conda" else projects).add(intent.touches)
            outcome.indexed.append(intent.path)
            continue
        if intent.state == "removed":
            (subdirs if intent.kind == "conda" else projects).add(intent.touches)
            for relative in [intent.path, *intent.companions]:
                (layout.root / relative).unlink(missing_ok=True)
            outcome.removed.append(intent.path)
            continue
        for relative in [intent.path, *intent.companions]:
            path = layout.root / relative
            if path.is_file():
                path.unlink()
                outcome.orphans.append(relative)
    return projects, subdirs


def _remove_old_shards(layout: ChannelLayout) -> int:
    """Remove every conda subdir's shards its index no longer names, past their grace."""
    removed = 0
    if layout.conda_dir.is_dir():
        for folder in sorted(layout.conda_dir.iterdir()):
            if (folder / shards.SHARD_INDEX).is_file():
                try:
                    removed += shards.sweep(folder)
                except OSError as error:  # housekeeping: never in the way of a recovery
                    log.warning("old shards of %s not removed: %s", folder, error)
    if removed:
        log.info("channel %s: %d shard(s) no index names any more removed", layout.name, removed)
    return removed
