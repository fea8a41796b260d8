"""What the web UI shows, read from the database: the channel tree, a channel's projects
(with a search), and a project's releases with their files and conda packages.

Plain reads returning frozen records; no HTML and no HTTP (the server renders them). Three
places are named for what other work adds: `visible_bases` (a channel's ordered bases),
`origin_of` (where a conda package came from) and the `readable` filter the caller
passes to `channel_tree` (who may read which channel). Names meet by PEP 503 normalisation
(`canonicalize_name`, conda names too, so a bridged `zope.interface` meets its PyPI project
`zope-interface`); versions sort by `versions.version_key`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import select

from drawbridge.channel.bases import Level, bases_by_channel
from drawbridge.channel.database import (
    ChannelRow,
    CondaPackageRow,
    Database,
    DistributionRow,
)
from drawbridge.channel.versions import version_key

#: `uploaded_by` values the publishing commands record (`bridge`, `drawbridge build`)
BRIDGE_UPLOADER = "bridge"
BUILD_UPLOADER = "build"
#: `conda_packages.made_how` as the UI words it
RECORDED_ROUTES = {"wheel": "bridged wheel", "recipe": "recipe build"}


# -- the channel tree ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelEntry:
    """One channel in the tree."""

    name: str  # `main` or `company/dev`
    description: str
    bases: tuple[str, ...]  # nearest first, as the visitor may see them

    @property
    def owner(self) -> str:
        """The part before `/`, or "" for a plain name."""
        return self.name.partition("/")[0] if "/" in self.name else ""


@dataclass(frozen=True)
class OwnerGroup:
    """The channels of one owner (`company/` → base, dev…); owner "" holds plain names."""

    owner: str
    channels: tuple[ChannelEntry, ...]


def visible_bases(
    bases: Iterable[Level], readable: Callable[[str], bool] = lambda _name: True
) -> tuple[str, ...]:
    """A channel's ordered bases (from `bases.bases_by_channel`), nearest first
    (`upstream:<mirror>` for a mirror), without the channels `readable` refuses: a visitor
    never learns the name of a hidden base."""
    return tuple(str(b) for b in bases if b.upstream or readable(b.name))


def channel_tree(database: Database, readable: Callable[[str], bool]) -> list[OwnerGroup]:
    """Every channel `readable` admits, grouped by owner: plain channels first (owner ""),
    then each owner's, every list sorted by code point."""
    with database.session() as session:
        rows = session.execute(select(ChannelRow.name, ChannelRow.description)).all()
        every_base = bases_by_channel(session)  # one query for the whole tree
        entries = [
            ChannelEntry(name, description or "", visible_bases(every_base.get(name, ()), readable))
            for name, description in rows
            if readable(name)
        ]
    groups: dict[str, list[ChannelEntry]] = defaultdict(list)
    for entry in entries:
        groups[entry.owner].append(entry)
    return [
        OwnerGroup(owner, tuple(sorted(groups[owner], key=lambda e: e.name)))
        for owner in sorted(groups)
    ]


def channel_entry(
    database: Database, channel: str, readable: Callable[[str], bool] = lambda _name: True
) -> ChannelEntry | None:
    """One channel's entry (its bases as `readable` admits them), or None if there is no
    such channel."""
    with database.session() as session:
        row = session.get(ChannelRow, channel)
        if row is None:
            return None
        bases = visible_bases(bases_by_channel(session).get(row.name, ()), readable)
        return ChannelEntry(row.name, row.description or "", bases)


# -- a channel's projects -----------------------------------------------------------------


@dataclass(frozen=True)
class ProjectEntry:
    """One project in a channel's list: its PEP 503 name, the name it shows, its newest
    version and which views carry it."""

    name: NormalizedName
    display_name: str
    latest: str
    pip: bool
    conda: bool
    source: str = ""  # the base it is inherited from; "" for the channel's own


def matches(name: str, query: str) -> bool:
    """Whether a project name answers a search: every word of the query, normalised, is
    part of the normalised name (`Zope_Interface` finds `zope.interface`)."""
    words = [canonicalize_name(word) for word in query.split()]
    target = canonicalize_name(name)
    return all(word in target for word in words if word)


def projects_through(
    database: Database, levels: Sequence[str], query: str = ""
) -> list[ProjectEntry]:
    """What a channel serves through its levels (itself, then its bases' channels, nearest
    first): each project from the nearest level that has it, marked with the base it comes
    from, sorted by name."""
    found: dict[str, ProjectEntry] = {}
    for depth, level in enumerate(levels):
        for entry in channel_projects(database, level, query):
            if entry.name not in found:
                found[entry.name] = replace(entry, source=level) if depth else entry
    return [found[name] for name in sorted(found)]


def channel_projects(database: Database, channel: str, query: str = "") -> list[ProjectEntry]:
    """The projects of `channel` (pip distributions and conda packages, met by PEP 503
    name), sorted by name, only those `matches` admits when `query` is given.

    Plain Core queries (ORM rows cost three times as much), narrowed in SQL by each word
    of the query and checked exactly here: a search costs what it finds."""
    words = [canonicalize_name(word) for word in query.split() if canonicalize_name(word)]
    pip_query = select(
        DistributionRow.project, DistributionRow.display_name, DistributionRow.version
    ).where(DistributionRow.channel == channel)
    conda_query = select(CondaPackageRow.name, CondaPackageRow.version).where(
        CondaPackageRow.channel == channel
    )
    for word in words:
        # `_` matches any one character: `zope-interface` finds `zope.interface` too
        pattern = "%" + _like_escaped(word).replace("-", "_") + "%"
        pip_query = pip_query.where(DistributionRow.project.like(pattern, escape="\\"))
        conda_query = conda_query.where(CondaPackageRow.name.ilike(pattern, escape="\\"))
    with database.engine.connect() as connection:
        pip_rows = connection.execute(pip_query.distinct()).all()
        conda_rows = connection.execute(conda_query.distinct()).all()
    # per project, the spelling of its name each pip version gives (the smallest, if its
    # files disagree: `Zope.Interface` wheels beside a `zope.interface` sdist)
    spellings: dict[NormalizedName, dict[str, str]] = defaultdict(dict)
    conda_names: dict[NormalizedName, str] = {}
    versions: dict[NormalizedName, set[str]] = defaultdict(set)
    for project, display_name, version in pip_rows:
        known = spellings[project].get(version)
        spellings[project][version] = min(known, display_name) if known else display_name
        versions[project].add(version)
    for name, version in conda_rows:
        project = canonicalize_name(name)
        conda_names[project] = min(conda_names.get(project, name), name)
        versions[project].add(version)
    found = sorted(versions)
    if words:
        found = [project for project in found if matches(project, query)]
    return [
        ProjectEntry(
            project,
            spellings[project][_newest(set(spellings[project]))]
            if project in spellings
            else conda_names[project],
            _newest(versions[project]),
            project in spellings,
            project in conda_names,
        )
        for project in found
    ]


def _newest(versions: set[str]) -> str:
    return next(iter(versions)) if len(versions) == 1 else max(versions, key=version_key)


def _reversed(text: str) -> tuple[int, ...]:
    """A key under which the smallest text is the largest (to pick it with `max`)."""
    return tuple(-ord(char) for char in text)


def _like_escaped(text: str) -> str:
    """`text` with LIKE's wildcards and its escape character escaped (by a backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- a project's releases -----------------------------------------------------------------


@dataclass(frozen=True)
class PipFile:
    """A wheel or sdist of a release."""

    filename: str
    kind: Literal["wheel", "sdist"]
    size: int
    sha256: str
    uploaded_by: str
    upload_time: dt.datetime
    yanked: bool
    yanked_reason: str
    requires_python: str


@dataclass(frozen=True)
class Origin:
    """Where a conda package came from, as the UI words it (`publishing.Provenance` is what
    was recorded): `route` is "bridged wheel", "recipe build" or "upload"; `source` the
    wheel's or sdist's file name when it was recorded."""

    route: str
    source: str = ""


def origin_of(row: CondaPackageRow) -> Origin:
    """Where the conda package of `row` came from, as publishing recorded it (`made_how`,
    and `made_from`: the wheel or sdist); a package recorded as an upload but published by
    the bridge or a recipe build without saying how is named after its publisher."""
    route = RECORDED_ROUTES.get(row.made_how) or {
        BRIDGE_UPLOADER: "bridged wheel",
        BUILD_UPLOADER: "recipe build",
    }.get(row.uploaded_by, "upload")
    return Origin(route, row.made_from)


@dataclass(frozen=True)
class CondaFile:
    """A conda package of a release, in one subdir."""

    filename: str
    name: str
    subdir: str
    build: str
    size: int
    sha256: str
    uploaded_by: str
    upload_time: dt.datetime
    origin: Origin


@dataclass(frozen=True)
class Release:
    """One version of a project: its pip files and conda packages."""

    version: str
    files: tuple[PipFile, ...]  # sdist first, then wheels by name
    conda: tuple[CondaFile, ...]  # by subdir, then name

    @property
    def yanked(self) -> bool:
        """Yanked when every pip file of it is (PEP 592 yanks files, pip a release)."""
        return bool(self.files) and all(f.yanked for f in self.files)


@dataclass(frozen=True)
class ProjectDetail:
    """A project of a channel: its names, summary and releases, newest first."""

    name: NormalizedName
    display_name: str
    summary: str
    conda_names: tuple[str, ...]  # the conda package names met by its PEP 503 name
    releases: tuple[Release, ...]

    def release(self, version: str) -> Release | None:
        """The release of `version` (any spelling PEP 440 reads as the same), or None."""
        wanted = _same_version(version)
        return next((r for r in self.releases if r.version == wanted), None)


def project_detail(database: Database, channel: str, project: str) -> ProjectDetail | None:
    """One project of `channel` by any spelling of its name, or None if it has no file
    there. Its conda packages are those whose name normalises to the project's."""
    name = canonicalize_name(project)
    with database.session() as session:
        dists = list(
            session.scalars(
                select(DistributionRow).where(
                    DistributionRow.channel == channel, DistributionRow.project == name
                )
            )
        )
        names = [
            conda_name
            for conda_name in session.scalars(
                select(CondaPackageRow.name)
                .where(
                    CondaPackageRow.channel == channel,
                    CondaPackageRow.name.ilike(
                        _like_escaped(name).replace("-", "_") + "%", escape="\\"
                    ),
                )
                .distinct()
            )
            if canonicalize_name(conda_name) == name
        ]
        packages = list(
            session.scalars(
                select(CondaPackageRow).where(
                    CondaPackageRow.channel == channel, CondaPackageRow.name.in_(names)
                )
            )
        )
    if not dists and not packages:
        return None
    newest = max(
        dists, key=lambda d: (version_key(d.version), _reversed(d.display_name)), default=None
    )
    display = newest.display_name if newest else min(p.name for p in packages)
    summary = str((newest.core_metadata or {}).get("summary") or "") if newest else ""
    return ProjectDetail(
        name=name,
        display_name=display,
        summary=summary,
        conda_names=tuple(sorted({p.name for p in packages})),
        releases=_releases(dists, packages),
    )


def _releases(
    dists: Iterable[DistributionRow], packages: Iterable[CondaPackageRow]
) -> tuple[Release, ...]:
    pip_files: dict[str, list[PipFile]] = defaultdict(list)
    conda_files: dict[str, list[CondaFile]] = defaultdict(list)
    for d in dists:
        pip_files[_same_version(d.version)].append(
            PipFile(
                filename=d.filename,
                kind="sdist" if d.packagetype == "sdist" else "wheel",
                size=d.size,
                sha256=d.sha256,
                uploaded_by=d.uploaded_by,
                upload_time=d.upload_time,
                yanked=d.yanked,
                yanked_reason=d.yanked_reason or "",
                requires_python=d.requires_python or "",
            )
        )
    for p in packages:
        conda_files[_same_version(p.version)].append(
            CondaFile(
                filename=p.filename,
                name=p.name,
                subdir=p.subdir,
                build=p.build,
                size=p.size,
                sha256=p.sha256,
                uploaded_by=p.uploaded_by,
                upload_time=p.upload_time,
                origin=origin_of(p),
            )
        )
    versions = sorted(set(pip_files) | set(conda_files), key=version_key, reverse=True)
    return tuple(
        Release(
            version,
            tuple(sorted(pip_files[version], key=lambda f: (f.kind != "sdist", f.filename))),
            tuple(sorted(conda_files[version], key=lambda f: (f.subdir, f.name, f.filename))),
        )
        for version in versions
    )


def _same_version(version: str) -> str:
    """A version as one release is keyed: PEP 440's normal form where it parses (a conda
    package's `1.0` and a wheel's `1.0` are one release), else as written."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version
