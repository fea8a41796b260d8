"""`drawbridge verify`: re-hash every stored file against its record; set aside what differs.

Hashing runs without the channel lock (a large channel takes minutes); each file found
wrong is hashed again with the lock held before anything is done, so a publish in the
meantime is never mistaken for damage. A wrong or missing package file is quarantined and
its record removed; a damaged PEP 658 .metadata file whose wheel is intact is rewritten
from the wheel instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select

from drawbridge.channel.database import CondaPackageRow, Database, DistributionRow
from drawbridge.channel.distributions import digest_bytes, read_wheel_metadata, sha256_file
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.indexes import row_record
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.quarantine import QuarantinedFile, quarantine
from drawbridge.channel.storage import write_bytes_atomic

Row = CondaPackageRow | DistributionRow


@dataclass
class VerifyReport:
    """What verifying one channel checked and did."""

    channel: str
    checked: int = 0
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # .metadata files rewritten from their wheel
    projects: set[str] = field(default_factory=set)  # pages to rewrite
    subdirs: set[str] = field(default_factory=set)  # conda subdirs to re-index

    @property
    def ok(self) -> bool:
        """Whether every stored file matched its record (a rewritten .metadata counts as fine)."""
        return not self.quarantined


def file_path(layout: ChannelLayout, row: Row) -> Path:
    """Where the file a row records is stored."""
    if isinstance(row, CondaPackageRow):
        return layout.conda_dir / row.subdir / row.filename
    return layout.files_dir / row.filename


def problem(layout: ChannelLayout, row: Row) -> str | None:
    """What is wrong with the stored file of `row`, or None if it has the recorded bytes."""
    path = file_path(layout, row)
    try:
        size = path.stat().st_size
        if size != row.size:
            return f"it is {size:,} bytes, the record says {row.size:,}"
        actual = sha256_file(path)
    except FileNotFoundError:
        return "the file is missing"
    if actual != row.sha256:
        return f"its sha256 is {actual}, the record says {row.sha256}"
    return None


def metadata_problem(layout: ChannelLayout, row: Row) -> str | None:
    """What is wrong with a wheel's PEP 658 .metadata file, or None."""
    if not isinstance(row, DistributionRow) or not row.metadata_sha256:
        return None
    path = layout.files_dir / (row.filename + ".metadata")
    try:
        actual = sha256_file(path)
    except FileNotFoundError:
        return "its .metadata file is missing"
    return (
        None
        if actual == row.metadata_sha256
        else f"its .metadata file's sha256 is {actual}, the record says {row.metadata_sha256}"
    )


def rows(database: Database, channel: str) -> list[Row]:
    """Every file recorded in `channel`."""
    with database.session() as session:
        found: list[Row] = list(
            session.scalars(select(CondaPackageRow).where(CondaPackageRow.channel == channel))
        )
        found += list(
            session.scalars(select(DistributionRow).where(DistributionRow.channel == channel))
        )
    return found


def suspects(database: Database, layout: ChannelLayout, report: VerifyReport) -> list[Row]:
    """Hash every recorded file (no lock held); return the rows whose files look wrong."""
    found = []
    for row in rows(database, layout.name):
        report.checked += 1
        if problem(layout, row) or metadata_problem(layout, row):
            found.append(row)
    return found


def settle(
    database: Database, layout: ChannelLayout, suspect_rows: list[Row], report: VerifyReport
) -> None:
    """With the channel lock held: look at each suspect again, quarantine the file (and
    drop its record) or rewrite its .metadata; note what the indexes must then show."""
    for row in suspect_rows:
        reason = problem(layout, row)
        if reason is None and isinstance(row, DistributionRow) and metadata_problem(layout, row):
            reason = _rewrite_metadata(layout, row, report)
        if reason is None:
            continue
        path = file_path(layout, row)
        item = quarantine(layout, path, f"does not match its record: {reason}", row_record(row))
        report.quarantined.append(item)
        if isinstance(row, DistributionRow):
            metadata = path.with_name(path.name + ".metadata")
            if metadata.exists():
                quarantine(
                    layout, metadata, f"the .metadata of {row.filename}, quarantined with it"
                )
            report.projects.add(row.project)
        else:
            report.subdirs.add(row.subdir)
        with database.session() as session:
            session.execute(delete(type(row)).where(type(row).id == row.id))


def _rewrite_metadata(
    layout: ChannelLayout, row: DistributionRow, report: VerifyReport
) -> str | None:
    """Rewrite a damaged .metadata from its intact wheel; the reason to quarantine if not."""
    try:
        data = read_wheel_metadata(layout.files_dir / row.filename, row.filename)
    except ChannelError as error:
        return f"its .metadata is damaged and the wheel's cannot be read ({error})"
    if digest_bytes(data) != row.metadata_sha256:
        return "its .metadata is damaged and the wheel's METADATA does not match the record"
    write_bytes_atomic(layout.files_dir / (row.filename + ".metadata"), data)
    report.repaired.append(row.filename + ".metadata")
    return None
