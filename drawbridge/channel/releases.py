"""A release in a channel, as promotion and deletion take it: its wheels and sdists, and
the conda packages made from them.

A release is named `PROJECT` (every version) or `PROJECT==VERSION`. Its conda packages are
those whose recorded provenance (`made_from`) is one of its files or names a file of the
same project and version (a recipe build's sdist is not in the channel), and those with
no readable provenance whose conda name is the project's own (an uploaded package, or one
recorded before provenance was), with the same version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from drawbridge.channel.database import CondaPackageRow, DistributionRow
from drawbridge.channel.errors import InvalidName, UnknownProject
from drawbridge.channel.kinds import FileKind

SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([A-Za-z0-9._!+-]+))?\s*$")


@dataclass(frozen=True)
class ReleaseSpec:
    """`PROJECT` or `PROJECT==VERSION`, as the command line and the API take it."""

    project: NormalizedName
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ReleaseSpec:
        """InvalidName, with the form to use, if `text` is not `PROJECT[==VERSION]`."""
        match = SPEC.match(text)
        if match is None:
            raise InvalidName(
                f"{text!r} is not a release: write PROJECT or PROJECT==VERSION (e.g. "
                "requests==2.32.3)"
            )
        return cls(canonicalize_name(match[1]), match[2])

    def __str__(self) -> str:
        return self.project + (f"=={self.version}" if self.version else "")

    def matches(self, project: str, version: str) -> bool:
        """Whether a file of `project` (any spelling) at `version` belongs to this release."""
        return canonicalize_name(project) == self.project and (
            self.version is None or same_version(version, self.version)
        )


@dataclass(frozen=True)
class ChannelFile:
    """One recorded file of a channel, as promotion copies it and removal removes it."""

    kind: FileKind
    filename: str
    sha256: str
    subdir: str = ""  # conda only

    @property
    def path(self) -> str:
        """Where it lives, relative to its channel's folder."""
        if self.kind == "conda":
            return f"conda/{self.subdir}/{self.filename}"
        return f"pypi/files/{self.filename}"

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "filename": self.filename,
            "sha256": self.sha256,
            "subdir": self.subdir,
        }


def same_version(a: str, b: str) -> bool:
    """PEP 440 equality where both parse (`1.0` is `1.0.0`), else the same text."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def made_from_release(made_from: str) -> tuple[str, str] | None:
    """The (project, version) of the wheel or sdist file name `made_from`, if it is one."""
    try:
        if made_from.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(made_from)
            return name, str(version)
        if made_from:
            name, version = parse_sdist_filename(made_from)
            return name, str(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return None


def release_rows(
    session: Session, channel: str, spec: ReleaseSpec
) -> list[DistributionRow | CondaPackageRow]:
    """The records of a release's files in `channel` (see the module); UnknownProject if
    the channel has none."""
    distributions = [
        row
        for row in session.scalars(
            select(DistributionRow).where(
                DistributionRow.channel == channel, DistributionRow.project == spec.project
            )
        )
        if spec.version is None or same_version(row.version, spec.version)
    ]
    filenames = {row.filename for row in distributions}
    packages = []
    for row in session.scalars(select(CondaPackageRow).where(CondaPackageRow.channel == channel)):
        origin = made_from_release(row.made_from)
        if (
            row.made_from in filenames
            or (origin is not None and spec.matches(*origin))
            or (origin is None and spec.matches(row.name, row.version))
        ):
            packages.append(row)
    rows: list[DistributionRow | CondaPackageRow] = [
        *sorted(distributions, key=lambda r: r.filename),
        *sorted(packages, key=lambda r: (r.subdir, r.filename)),
    ]
    if not rows:
        raise UnknownProject(
            f"channel {channel!r} has no files of {spec}; see what it has at "
            f"/{channel}/simple/ or with `drawbridge channel list`"
        )
    return rows


def channel_file(row: DistributionRow | CondaPackageRow) -> ChannelFile:
    """A record as the `ChannelFile` a promotion keeps."""
    if isinstance(row, DistributionRow):
        return ChannelFile("pypi", row.filename, row.sha256)
    return ChannelFile("conda", row.filename, row.sha256, row.subdir)


def find_row(
    session: Session, channel: str, item: ChannelFile
) -> DistributionRow | CondaPackageRow | None:
    """The record of `item`'s name in `channel` (whatever its bytes), if there is one."""
    if item.kind == "conda":
        return session.scalar(
            select(CondaPackageRow).where(
                CondaPackageRow.channel == channel,
                CondaPackageRow.subdir == item.subdir,
                CondaPackageRow.filename == item.filename,
            )
        )
    return session.scalar(
        select(DistributionRow).where(
            DistributionRow.channel == channel, DistributionRow.filename == item.filename
        )
    )
