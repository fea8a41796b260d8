"""`[policy]` as decisions: a release (project, version, licence, advisories) is published,
or held with its reasons. Pure: the facts come in, reasons go out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from drawbridge.bridge.errors import PolicyError
from drawbridge.bridge.policy.licences import canonical, satisfied

#: the severities, lowest first (OSV's GHSA `database_specific.severity` says MODERATE)
SEVERITIES = ("low", "medium", "high", "critical")
ALIASES = {"moderate": "medium"}


def severity_rank(text: str) -> int:
    """The rank of a severity word in SEVERITIES; -1 if unknown."""
    word = ALIASES.get(text.lower(), text.lower())
    return SEVERITIES.index(word) if word in SEVERITIES else -1


def severity_of_score(score: float) -> str:
    """CVSS v3's qualitative rating of a base score."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Release:
    """What policy looks at: a project's version and the licence it declares."""

    project: str
    version: str
    licence: str | None  # an SPDX expression, None if unknown


@dataclass(frozen=True)
class Advisory:
    """A known vulnerability affecting a release, at a severity ("" if none was given)."""

    id: str
    severity: str
    summary: str = ""


@dataclass(frozen=True)
class Policy:
    """The `[policy]` table, parsed."""

    allow: tuple[Requirement, ...] = ()
    block: tuple[Requirement, ...] = ()
    licences: tuple[str, ...] = ()
    max_severity: str = ""
    auto_approve: frozenset[str] = frozenset()

    @classmethod
    def parse(
        cls,
        allow: Sequence[str] = (),
        block: Sequence[str] = (),
        licences: Sequence[str] = (),
        max_severity: str = "",
        auto_approve: Sequence[str] = (),
    ) -> Policy:
        """PolicyError naming the entry that is no PEP 508 requirement, SPDX id or severity."""
        for licence in licences:
            if canonical(licence) is None:
                raise PolicyError(
                    f"[policy] licenses: {licence!r} is not an SPDX licence id (write MIT, "
                    "Apache-2.0, BSD-3-Clause …: https://spdx.org/licenses/)"
                )
        if max_severity and severity_rank(max_severity) < 0:
            raise PolicyError(
                f"[policy] max_severity: {max_severity!r} is none of {', '.join(SEVERITIES)}"
            )
        return cls(
            tuple(_requirement("allow", text) for text in allow),
            tuple(_requirement("block", text) for text in block),
            tuple(licences),
            max_severity,
            frozenset(canonicalize_name(name) for name in auto_approve),
        )

    def allows_project(self, project: str) -> bool:
        """True if some version of `project` could pass the allow and block lists (a block
        entry with a version specifier blocks only those versions)."""
        name = canonicalize_name(project)
        if any(canonicalize_name(r.name) == name and not r.specifier for r in self.block):
            return False
        return not self.allow or any(canonicalize_name(r.name) == name for r in self.allow)

    def reasons(self, release: Release, advisories: Sequence[Advisory] = ()) -> list[str]:
        """Why `release` must be held; empty if it may be published."""
        found: list[str] = []
        blocked = [r for r in self.block if _matches(r, release)]
        if blocked:
            found.append(f"blocked by [policy] block: {blocked[0]}")
        if self.allow and not any(_matches(r, release) for r in self.allow):
            found.append("not in [policy] allow")
        if self.licences:
            if release.licence is None:
                found.append("licence unknown: a maintainer must read it")
            elif not satisfied(release.licence, self.licences):
                found.append(f"licence {release.licence} is not among [policy] licenses")
        found += [
            f"advisory {a.id} ({a.severity or 'severity not given'})"
            + (f": {a.summary}" if a.summary else "")
            for a in self.holding(advisories)
        ]
        return found

    def holding(self, advisories: Sequence[Advisory]) -> list[Advisory]:
        """The advisories severe enough to hold a release: at or above max_severity; one
        whose severity is not given holds too (no one has said it is harmless)."""
        if not self.max_severity:
            return []
        floor = severity_rank(self.max_severity)
        return [
            a
            for a in advisories
            if severity_rank(a.severity) in (-1,) or severity_rank(a.severity) >= floor
        ]


def _requirement(table_key: str, text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise PolicyError(
            f"[policy] {table_key}: {text!r} is not a PEP 508 requirement ({error})"
        ) from None


def _matches(requirement: Requirement, release: Release) -> bool:
    if canonicalize_name(requirement.name) != canonicalize_name(release.project):
        return False
    if not requirement.specifier:
        return True
    try:
        return requirement.specifier.contains(Version(release.version), prereleases=True)
    except InvalidVersion:
        return False  # a version PEP 440 cannot read matches no specifier
