"""Plan a bridge: which projects, versions and targets, and by which route.

For each requirement and its whole dependency closure the planner decides: *upstream*
(the upstream conda channels carry a satisfying version: depend on it, bridge nothing),
*wheel* (wheels cover the targets: repack them), *recipe* (no wheel covers some target:
the sdist needs a reviewed recipe), or *cannot* (with the reason). It decides; it does
not download anything but PEP 658 metadata.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import rattler
from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from drawbridge.bridge.deps import Dropped, UnexpressibleRequirement, conda_version_spec, python_dependency, translate
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.names import NameTable
from drawbridge.bridge.pypi import UnknownUpstreamProject, Upstream, UpstreamFile
from drawbridge.bridge.targets import DEFAULT_MANYLINUX, Target, best_wheel, is_pure

Route = Literal["upstream", "wheel", "recipe", "cannot"]


@dataclass(frozen=True)
class Build:
    """One conda package to make: a wheel repacked for a target (None: noarch)."""

    target: Target | None
    wheel: UpstreamFile
    depends: tuple[str, ...]


@dataclass(frozen=True)
class ProjectPlan:
    """What happens to one project of the closure."""

    project: str
    conda_name: str
    route: Route
    version: str | None = None
    reason: str = ""
    builds: tuple[Build, ...] = ()
    needs_recipe: tuple[Target, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    requested_by: str = ""

    @property
    def wheels(self) -> tuple[UpstreamFile, ...]:
        return tuple({b.wheel.filename: b.wheel for b in self.builds}.values())


class CondaUpstream:
    """The company's upstream conda channels, asked through rattler's gateway."""

    def __init__(self, channels: Sequence[str], subdirs: Sequence[str]) -> None:
        self.channels = [rattler.Channel(c) for c in channels]
        self.subdirs = sorted(set(subdirs) | {"noarch"})
        self.gateway = rattler.Gateway()

    def carries(self, conda_name: str, version_spec: str) -> bool:
        """True if some upstream channel has a package satisfying `name version_spec`."""
        if not self.channels:
            return False
        spec = f"{conda_name} {version_spec}".strip()
        result = asyncio.run(self.gateway.query(self.channels, self.subdirs, [spec], recursive=False))
        matcher = rattler.MatchSpec(spec)
        return any(matcher.matches(record) for records in result for record in records)


def _newest_satisfying(files: Sequence[UpstreamFile], specifier: SpecifierSet) -> str | None:
    versions = sorted({f.version for f in files if not f.yanked}, key=Version, reverse=True)
    allowed = list(specifier.filter(versions))
    return allowed[0] if allowed else None


def _targets_allowed(requires_python: str | None, targets: Sequence[Target]) -> list[Target]:
    if not requires_python:
        return list(targets)
    try:
        specifier = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return list(targets)
    # any patch release of X.Y counts: conda environments pin X.Y, not X.Y.Z
    return [t for t in targets if specifier.contains(f"{t.python}.999", prereleases=True)]


def plan_project(
    requirement: Requirement,
    upstream: Upstream,
    conda_upstream: CondaUpstream | None,
    targets: Sequence[Target],
    names: NameTable,
    extras: Sequence[str] = (),
    requested_by: str = "",
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
) -> tuple[ProjectPlan, tuple[str, ...]]:
    """Plan one project; also return the requirements it pulls into the closure."""
    project = canonicalize_name(requirement.name)
    conda_name = names.conda_name(project)
    base = {"project": project, "conda_name": conda_name, "requested_by": requested_by}
    try:
        version_spec = conda_version_spec(requirement.specifier, str(requirement))
    except UnexpressibleRequirement as error:
        return ProjectPlan(**base, route="cannot", reason=str(error)), ()
    if conda_upstream and conda_upstream.carries(conda_name, version_spec):
        return ProjectPlan(**base, route="upstream", reason=f"upstream conda carries {conda_name} {version_spec}".strip()), ()
    try:
        files = upstream.files(project)
    except UnknownUpstreamProject as error:
        return ProjectPlan(**base, route="cannot", reason=str(error)), ()
    version = _newest_satisfying(files, requirement.specifier)
    if version is None:
        offered = ", ".join(sorted({f.version for f in files}, key=Version, reverse=True)[:5])
        return ProjectPlan(**base, route="cannot", reason=f"no version satisfies {requirement}; upstream has {offered}"), ()
    release = [f for f in files if f.version == version and not f.yanked]
    wheels = [f for f in release if f.is_wheel]
    if not wheels:
        reason = "only an sdist: needs a reviewed recipe" if release else "no files"
        return ProjectPlan(**base, route="recipe" if release else "cannot", version=version, reason=reason, needs_recipe=tuple(targets)), ()
    reference = next((w for w in wheels if is_pure(w.filename)), wheels[0])
    fields, _ = parse_email(upstream.metadata(reference))
    requires_python = fields.get("requires_python")
    active = _targets_allowed(requires_python, targets)
    excluded = [t for t in targets if t not in active]
    translation = translate(fields.get("requires_dist", []), active, names, extras)
    builds, missing = _builds(wheels, active, translation.depends, translation.uniform, requires_python, manylinux)
    notes = []
    if excluded:
        notes.append(f"Requires-Python {requires_python} excludes {', '.join(map(str, excluded))}")
    if missing:
        notes.append(f"no wheel for {', '.join(map(str, missing))}: needs a recipe")
    route: Route = "wheel" if builds else "recipe"
    plan = ProjectPlan(
        **base, route=route, version=version, reason="; ".join(notes), builds=tuple(builds),
        needs_recipe=tuple(missing), dropped=translation.dropped,
    )  # fmt: skip
    return plan, translation.followed


def _builds(
    wheels: Sequence[UpstreamFile],
    active: Sequence[Target],
    depends: dict[Target, tuple[str, ...]],
    uniform: bool,
    requires_python: str | None,
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
) -> tuple[list[Build], list[Target]]:
    by_name = {w.filename: w for w in wheels}
    chosen = {t: best_wheel(list(by_name), t, manylinux=manylinux) for t in active}
    missing = [t for t, w in chosen.items() if w is None]
    covered = {t: by_name[w] for t, w in chosen.items() if w is not None}
    pure_everywhere = covered and all(is_pure(w.filename) for w in covered.values())
    if pure_everywhere and uniform and len({w.filename for w in covered.values()}) == 1:
        try:
            python = python_dependency(requires_python) or "python"
        except UnexpressibleRequirement:
            python = "python"
        wheel = next(iter(covered.values()))
        shared = depends[next(iter(covered))]
        return [Build(None, wheel, tuple(sorted({python, *shared})))], missing
    return [Build(t, w, depends[t]) for t, w in sorted(covered.items())], missing


def make_plan(
    requirements: Sequence[str],
    upstream: Upstream,
    conda_upstream: CondaUpstream | None,
    targets: Sequence[Target],
    names: NameTable,
    extras: Sequence[str] = (),
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
) -> list[ProjectPlan]:
    """Plan the requirements and their whole dependency closure, in discovery order.

    `manylinux` is the newest glibc baseline Linux wheels may need, as (2, minor).
    """
    queue: deque[tuple[str, str]] = deque((r, "") for r in requirements)
    planned: dict[str, ProjectPlan] = {}
    while queue:
        text, requested_by = queue.popleft()
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            planned[text] = ProjectPlan(text, text, "cannot", reason=f"not a valid requirement ({error})")
            continue
        project = canonicalize_name(requirement.name)
        if project in planned:
            _note_conflict(planned, project, requirement, requested_by)
            continue
        try:
            plan, followed = plan_project(
                requirement, upstream, conda_upstream, targets, names,
                extras if not requested_by else (), requested_by, manylinux,
            )  # fmt: skip
        except BridgeError as error:
            plan, followed = ProjectPlan(project, names.conda_name(project), "cannot", reason=str(error), requested_by=requested_by), ()
        planned[project] = plan
        queue.extend((dependency, project) for dependency in followed)
    return list(planned.values())


def _note_conflict(planned: dict[str, ProjectPlan], project: str, requirement: Requirement, by: str) -> None:
    existing = planned[project]
    if existing.version and not requirement.specifier.contains(existing.version, prereleases=True):
        note = f"{by or 'the request'} wants {requirement}, which {existing.version} does not satisfy"
        reason = "; ".join(filter(None, [existing.reason, note]))
        planned[project] = ProjectPlan(**{**existing.__dict__, "reason": reason})
