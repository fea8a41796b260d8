"""Files policy kept out of a channel: each waits in `<home>/held/<sha256>/<name>` with a
`held_files` row saying why, until a maintainer accepts (then it is published) or rejects it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from drawbridge.channel.database import Database, HeldFileRow, utcnow
from drawbridge.channel.distributions import sha256_file
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.storage import link_or_copy_new


class UnknownHeld(ChannelError):
    """No held file of that number, or it was decided already."""


class HeldFiles:
    """The held files of one home."""

    def __init__(self, home_root: Path, database: Database) -> None:
        self.root = home_root / "held"
        self.db = database

    def path(self, row: HeldFileRow) -> Path:
        return self.root / row.sha256 / row.filename

    def hold(
        self,
        channel: str,
        path: Path,
        project: str,
        version: str,
        reasons: Sequence[str],
        advisories: Sequence[str] = (),
        source: str = "",
        made_how: str = "",
        made_from: str = "",
    ) -> HeldFileRow:
        """Keep `path` (named as it is) for `channel` with its reasons; the same bytes held
        for the same channel and still waiting are kept once (their row is returned)."""
        sha256 = sha256_file(path)
        with self.db.session() as session:
            waiting = session.scalar(
                select(HeldFileRow).where(
                    HeldFileRow.channel == channel,
                    HeldFileRow.filename == path.name,
                    HeldFileRow.sha256 == sha256,
                    HeldFileRow.state == "held",
                )
            )
            if waiting is not None:
                return waiting
        target = self.root / sha256 / path.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy_new(path, target)
        row = HeldFileRow(
            channel=channel,
            filename=path.name,
            project=project,
            version=version,
            sha256=sha256,
            reasons=list(reasons),
            advisories=list(advisories),
            source=source,
            made_how=made_how,
            made_from=made_from,
            held_at=utcnow(),
            state="held",
            decided_by="",
            comment="",
        )
        with self.db.session() as session:
            session.add(row)
        return row

    def waiting(self, channel: str | None = None) -> list[HeldFileRow]:
        """The files still held (of `channel`, if given), oldest first."""
        query = select(HeldFileRow).where(HeldFileRow.state == "held")
        if channel is not None:
            query = query.where(HeldFileRow.channel == channel)
        with self.db.session() as session:
            return list(session.scalars(query.order_by(HeldFileRow.id)))

    def all(self) -> list[HeldFileRow]:
        with self.db.session() as session:
            return list(session.scalars(select(HeldFileRow).order_by(HeldFileRow.id)))

    def get(self, held_id: int) -> HeldFileRow:
        """The held file `held_id`, still waiting; UnknownHeld otherwise."""
        with self.db.session() as session:
            row = session.get(HeldFileRow, held_id)
        if row is None or row.state != "held":
            raise UnknownHeld(
                f"no held file #{held_id} waits for a decision; `drawbridge held list` shows "
                "those that do"
            )
        return row

    def decide(
        self,
        held_id: int,
        accepted: bool,
        user: str,
        comment: str,
        also_record: Sequence[object] = (),
    ) -> HeldFileRow:
        """Record the decision on a waiting file (with `also_record`, the audit row, in the
        same transaction); a rejected file's bytes go, an accepted one's stay until
        `forget` (after it was published)."""
        with self.db.session() as session:
            row = session.get(HeldFileRow, held_id)
            if row is None or row.state != "held":
                raise UnknownHeld(f"held file #{held_id} was decided already")
            row.state = "accepted" if accepted else "rejected"
            row.decided_by, row.comment = user, comment
            session.add_all(also_record)
        if not accepted:
            self.forget(row)
        return row

    def forget(self, row: HeldFileRow) -> None:
        """Remove a decided file's bytes (its row stays as the record)."""
        folder = self.root / row.sha256
        (folder / row.filename).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
