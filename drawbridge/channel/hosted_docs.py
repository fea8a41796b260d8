"""A release's built documentation (a zip of Sphinx HTML), kept per channel, project and
version: checked like any archive, unpacked into `channels/<channel>/docs/<project>/
<version>/` all at once, recorded, and copied along when the release is promoted.

The zip is checked before anything is written (`limits.open_zip`: entry count and
inflation budget, a bomb refused; `archives.check_zip_members`: no absolute or `..`
names, intact data); docs hold plain files only, so any link is refused. It is unpacked
into a temporary folder beside the others, then renamed into place, replacing an older
upload of the same version: a reader sees the old docs or the new, never half of them.
A zip whose files all sit in one folder (`html/index.html`) is served from that folder.
The zip itself is kept beside the folder (`<version>.zip`, never served): replicas fetch it
by its sha256, as they fetch files, and unpack it themselves (`unpack_fetched`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from drawbridge.channel.archives import check_zip_members
from drawbridge.channel.database import (
    CHANNEL_NAME_LENGTH,
    Base,
    Database,
    DistributionRow,
    UTCDateTime,
    utcnow,
)
from drawbridge.channel.distributions import digest_file
from drawbridge.channel.errors import InvalidDistribution, UnknownProject
from drawbridge.channel.events import record_event
from drawbridge.channel.home import Home
from drawbridge.channel.limits import open_zip
from drawbridge.channel.versions import version_key

#: the word for a project's newest documented version in URLs
LATEST = "latest"


class DocsRow(Base):
    """One release's documentation in one channel."""

    __tablename__ = "hosted_docs"
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), primary_key=True)
    project: Mapped[NormalizedName] = mapped_column(String(200), primary_key=True)
    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the zip uploaded
    size: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")
    uploaded: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class HostedDocs:
    """What an upload kept."""

    channel: str
    project: str
    version: str
    files: int


class DocsStore:
    """The documentation of one home's channels."""

    def __init__(self, home: Home, database: Database) -> None:
        self.home = home
        self.db = database

    def folder(self, channel: str, project: str, version: str) -> Path:
        return self.home.channel(channel).root / "docs" / canonicalize_name(project) / version

    def archive(self, channel: str, project: str, version: str) -> Path:
        """Where the zip of a version's docs is kept, beside its folder."""
        return self.folder(channel, project, version).with_name(f"{version}.zip")

    def recorded(self, channel: str) -> list[DocsRow]:
        """Every documented release of a channel."""
        with self.db.session() as session:
            return list(session.scalars(select(DocsRow).where(DocsRow.channel == channel)))

    def unpack_fetched(self, channel: str, project: str, version: str) -> None:
        """Unpack the kept zip of a version's docs into place (a replica, after fetching
        the zip): no database write, the record is the primary's."""
        target = self.folder(channel, project, version)
        staging = Path(tempfile.mkdtemp(prefix=".incoming.docs-", dir=target.parent))
        try:
            _unpack(self.archive(channel, project, version), f"the docs of {project}", staging)
            _swap_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def upload(
        self, channel: str, project: str, version: str, archive: Path, user: str = ""
    ) -> HostedDocs:
        """Check `archive` and make it the docs of `project` `version` in `channel`, whose
        release must be there; InvalidDistribution (or ArchiveTooLarge) names what is
        wrong, and nothing changes then."""
        key = canonicalize_name(project)
        shown = f"the docs of {key} {version}"
        with self.db.session() as session:
            if not _has_release(session, channel, key, version):
                raise UnknownProject(
                    f"no release {key} {version} in channel {channel!r}: publish the release "
                    "first, then its docs"
                )
        if version in (LATEST, "") or "/" in version or version.startswith("."):
            raise InvalidDistribution(f"{version!r} is not a version docs can be kept under")
        target = self.folder(channel, key, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming.docs-", dir=target.parent))
        try:
            count = _unpack(archive, shown, staging)
            kept = self.archive(channel, key, version)
            shutil.copyfile(archive, staging.with_suffix(".zip"))
            os.replace(staging.with_suffix(".zip"), kept)
            _swap_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            staging.with_suffix(".zip").unlink(missing_ok=True)
        digests = digest_file(archive)
        with self.db.session() as session:
            row = session.get(DocsRow, (channel, key, version)) or DocsRow(
                channel=channel, project=key, version=version
            )
            row.sha256, row.size, row.files = digests.sha256, digests.size, count
            row.uploaded_by, row.uploaded = user, utcnow()
            session.add(row)
            record_event(
                session,
                "docs-uploaded",
                channel,
                key,
                {"project": key, "version": version, "sha256": digests.sha256},
            )
        return HostedDocs(channel, key, version, count)

    def versions(self, channel: str, project: str) -> list[str]:
        """The documented versions of a project in a channel, newest first."""
        with self.db.session() as session:
            found = session.scalars(
                select(DocsRow.version).where(
                    DocsRow.channel == channel, DocsRow.project == canonicalize_name(project)
                )
            )
            return sorted(found, key=version_key, reverse=True)

    def resolve(self, channel: str, project: str, version: str) -> Path | None:
        """The folder of `version`'s docs (`latest`: the newest documented), or None."""
        versions = self.versions(channel, project)
        if version == LATEST:
            version = versions[0] if versions else ""
        if version not in versions:
            return None
        folder = self.folder(channel, project, version)
        return folder if folder.is_dir() else None

    def copy(self, source: str, target: str, releases: set[tuple[str, str]]) -> None:
        """Copy the docs of `releases` (project, version) from `source` into `target`, as
        promotion carries a release: hard links, recorded with the same row."""
        for project, version in sorted(releases):
            with self.db.session() as session:
                row = session.get(DocsRow, (source, canonicalize_name(project), version))
            there = self.folder(source, project, version)
            if row is None or not there.is_dir():
                continue
            folder = self.folder(target, project, version)
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".incoming.docs-", dir=folder.parent))
            try:
                shutil.rmtree(staging)
                shutil.copytree(there, staging, copy_function=os.link)
                zipped = self.archive(source, project, version)
                if zipped.is_file():
                    shutil.copyfile(zipped, staging.with_suffix(".zip"))
                    os.replace(staging.with_suffix(".zip"), self.archive(target, project, version))
                _swap_into_place(staging, folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            with self.db.session() as session:
                copied = session.get(DocsRow, (target, row.project, version)) or DocsRow(
                    channel=target, project=row.project, version=version
                )
                copied.sha256, copied.size, copied.files = row.sha256, row.size, row.files
                copied.uploaded_by, copied.uploaded = row.uploaded_by, row.uploaded
                session.add(copied)


def _has_release(session, channel: str, project: str, version: str) -> bool:  # type: ignore[no-untyped-def]
    return (
        session.scalar(
            select(DistributionRow.id)
            .where(
                DistributionRow.channel == channel,
                DistributionRow.project == project,
                DistributionRow.version == version,
            )
            .limit(1)
        )
        is not None
    )


def _unpack(archive: Path, shown: str, folder: Path) -> int:
    """Check the zip and write its files under `folder`; how many there were."""
    with open_zip(archive, shown) as zf:
        check_zip_members(shown, zf)
        files = [info for info in zf.infolist() if not info.is_dir()]
        for info in files:
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InvalidDistribution(
                    f"{shown}: {info.filename!r} is a link; docs hold plain files only"
                )
        if not files:
            raise InvalidDistribution(f"{shown}: the zip holds no file; zip the built HTML")
        prefix = _common_folder([info.filename for info in files])
        for info in files:
            relative = info.filename[len(prefix) :]
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    if not (folder / "index.html").is_file():
        raise InvalidDistribution(
            f"{shown}: no index.html at the top; zip the contents of Sphinx's HTML output "
            "folder (`cd build/html && zip -r ../docs.zip .`)"
        )
    return len(files)


def _common_folder(names: list[str]) -> str:
    """`html/` when every name lies in that one folder and the top has no index.html."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def _swap_into_place(staging: Path, target: Path) -> None:
    """Put the folder `staging` at `target`, replacing what is there with two renames."""
    if target.exists():
        old = target.with_name(f".old.{target.name}.{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
