"""Policy applied to files about to be published: their facts read, held ones kept aside
(`channel.held`), accepted ones published and audited.

A conda package made from a wheel or an sdist is judged as that release (its project and
version are PyPI's, read from the file it was made from); any other conda package by its
own name, version and `license`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from drawbridge.bridge.errors import PolicyError
from drawbridge.bridge.policy.licences import canonical, licence_of
from drawbridge.bridge.policy.osv import Snapshot
from drawbridge.bridge.policy.rules import Policy, Release
from drawbridge.bridge.records import AuditRow
from drawbridge.channel.conda_packages import is_conda_package, read_index
from drawbridge.channel.distributions import inspect_distribution
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.held import HeldFiles
from drawbridge.channel.home import Home, PolicySettings
from drawbridge.channel.database import HeldFileRow
from drawbridge.channel.service import Channels, PublishedFile
from drawbridge.channel.publishing import Provenance


def policy_of(settings: PolicySettings) -> Policy:
    return Policy.parse(
        settings.allow,
        settings.block,
        settings.licenses,
        settings.max_severity,
        settings.auto_approve,
    )


@dataclass(frozen=True)
class Verdict:
    """What policy says of one file: the release it is, and why it is held (empty: not)."""

    release: Release
    reasons: tuple[str, ...]
    advisories: tuple[str, ...] = ()


class PolicyGate:
    """`[policy]` and the home's OSV snapshot, applied to files."""

    def __init__(self, policy: Policy, snapshot: Snapshot) -> None:
        self.policy = policy
        self.snapshot = snapshot

    @property
    def active(self) -> bool:
        """False when nothing could be held (no rule, no advisories): no file need be read."""
        p = self.policy
        return bool(p.allow or p.block or p.licences or (p.max_severity and self.snapshot.projects))

    @classmethod
    def of_home(cls, home: Home) -> PolicyGate:
        return cls(policy_of(home.policy), Snapshot.load(home.root))

    def judge(self, path: Path, made_from: str = "", wheel_facts: Release | None = None) -> Verdict:
        """The verdict on the file at `path` (a conda package's `made_from` names the wheel
        or sdist it was made from; `wheel_facts` is that file's release, if known)."""
        release = wheel_facts or release_of(path, made_from)
        advisories = self.snapshot.advisories(release.project, release.version)
        reasons = self.policy.reasons(release, advisories)
        held = tuple(a.id for a in self.policy.holding(advisories))
        return Verdict(release, tuple(reasons), held)


def release_of(path: Path, made_from: str = "") -> Release:
    """The release a file is, for policy (see the module)."""
    try:
        if not is_conda_package(path.name):
            info = inspect_distribution(path)
            return Release(info.project, info.version, licence_of(info.core_metadata))
        index = read_index(path)
    except ChannelError as error:
        raise PolicyError(f"{path.name}: cannot read it to apply policy: {error}") from None
    licence = canonical(str(index.get("license") or "")) if index.get("license") else None
    if made_from:
        try:
            if made_from.endswith(".whl"):
                name, version, _, _ = parse_wheel_filename(made_from)
            else:
                name, version = parse_sdist_filename(made_from)
            return Release(name, str(version), licence)
        except (InvalidWheelFilename, InvalidSdistFilename):
            pass
    return Release(str(index["name"]), str(index["version"]), licence)


def hold(
    held: HeldFiles,
    channel: str,
    path: Path,
    verdict: Verdict,
    source: str,
    made_how: str = "",
    made_from: str = "",
) -> HeldFileRow:
    """Keep `path` aside for `channel` with the verdict's reasons."""
    return held.hold(
        channel,
        path,
        verdict.release.project,
        verdict.release.version,
        verdict.reasons,
        verdict.advisories,
        source,
        made_how,
        made_from,
    )


def accept(
    channels: Channels, held: HeldFiles, held_id: int, user: str, comment: str
) -> PublishedFile:
    """Publish a held file (the normal checks), then record the decision with its audit row."""
    row = held.get(held_id)
    if not comment.strip():
        raise PolicyError(f"accepting held file #{held_id} needs --comment saying why")
    made = Provenance(row.made_how, row.made_from) if row.made_how else Provenance()  # type: ignore[arg-type]
    published = channels.publish(row.channel, held.path(row), uploaded_by=user, provenance=made)
    audit = AuditRow(
        user=user,
        action="accept-held",
        subject=row.filename,
        detail=f"into {row.channel}; held for: {'; '.join(row.reasons)}; comment={comment!r}",
    )
    held.decide(held_id, True, user, comment, [audit])
    held.forget(row)
    return published


def reject(held: HeldFiles, held_id: int, user: str, comment: str) -> HeldFileRow:
    """Refuse a held file for good: its bytes go, the decision is audited."""
    row = held.get(held_id)
    audit = AuditRow(
        user=user,
        action="reject-held",
        subject=row.filename,
        detail=f"for {row.channel}; held for: {'; '.join(row.reasons)}; comment={comment!r}",
    )
    return held.decide(held_id, False, user, comment, [audit])


@dataclass(frozen=True)
class Affected:
    """A published release an advisory of the home's OSV snapshot applies to."""

    channel: str
    project: str
    version: str
    advisory: str
    severity: str
    summary: str


def published_advisories(channels: Channels, snapshot: Snapshot) -> list[Affected]:
    """Every advisory that applies to a release the home's channels publish (pip view)."""
    found: list[Affected] = []
    if not snapshot.projects:
        return found
    for channel in channels.names():
        for project in channels.projects(channel):
            if project not in snapshot.projects:
                continue
            versions = {row.version for row in channels.project_files(channel, project, True)}
            for version in sorted(versions):
                for advisory in snapshot.advisories(project, version):
                    found.append(
                        Affected(
                            channel,
                            project,
                            version,
                            advisory.id,
                            advisory.severity,
                            advisory.summary,
                        )
                    )
    return found
