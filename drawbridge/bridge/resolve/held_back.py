"""Why a target got an older release than the newest: each newer release's obstacle, with the fix.

The obstacles are checked in the order a user can act on them: the release's
Requires-Python, its wheels' tags (a glibc or macOS baseline that could be raised, or
no wheel for the platform at all), a requirement of the closure that excludes it, and
finally its own dependencies. Releases with the same obstacle are told together:
"2.3.0 to 2.5.5 (6 releases) need manylinux_2_28: raise manylinux_glibc_minor to 28 to get them".
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from drawbridge.bridge.upstream.metadata import Catalogue, python_admits
from drawbridge.bridge.errors import BridgeError, MalformedDistribution
from drawbridge.bridge.translate.markers import active_requirements, interpreter_version
from drawbridge.bridge.upstream.pypi import UpstreamFile
from drawbridge.bridge.translate.targets import (
    DEFAULT_MACOS,
    DEFAULT_MANYLINUX,
    PlatformOptions,
    Target,
    baseline_needed,
    platform_tags,
    supported_tags,
    wheel_tags,
)
from drawbridge.bridge.resolve.uv_compile import UV_GLIBC_MINORS

#: at most this many releases above a pin are examined
MAX_RELEASES = 40


@dataclass(frozen=True)
class Holder:
    """A requirement on a project from the request or from a pinned project."""

    who: str  # "pandas 2.2.3", or "" for the request itself
    requirement: Requirement


@dataclass(frozen=True)
class Baselines:
    """The glibc and macOS versions a target's wheels may need (hashable: macOS as pairs)."""

    manylinux: tuple[int, int] = DEFAULT_MANYLINUX
    macos: tuple[tuple[str, tuple[int, int]], ...] = tuple(sorted(DEFAULT_MACOS.items()))

    @classmethod
    def of(cls, manylinux: tuple[int, int], macos: Mapping[str, tuple[int, int]]) -> Baselines:
        """Baselines from drawbridge.toml's shape: (2, minor) and {subdir: (major, minor)}."""
        major, minor = manylinux  # a list when it comes from TOML
        return cls((major, minor), tuple(sorted(macos.items())))

    def options(self) -> PlatformOptions:
        """The keyword arguments `targets.supported_tags` takes."""
        return {"manylinux": self.manylinux, "macos": dict(self.macos)}


@functools.lru_cache(maxsize=256)
def tag_ranks(target: Target, baselines: Baselines) -> dict[Tag, int]:
    """Each tag `target` accepts and its rank, 0 the best (pip's order)."""
    return {tag: index for index, tag in enumerate(supported_tags(target, **baselines.options()))}


@dataclass(frozen=True)
class Obstacle:
    """Why one release is not taken: a verb phrase for one release and one for several."""

    one: str  # "needs Python >=3.11"
    many: str  # "need Python >=3.11"
    standalone: bool = False  # a whole sentence ("held back by ..."): no versions in front
    unusable: bool = False  # the only wheels that fit are malformed


_PLURAL = {
    "has": "have",
    "needs": "need",
    "requires": "require",
    "conflicts": "conflict",
    "is": "are",
}


def _same(text: str) -> Obstacle:
    """An obstacle whose plural only changes its first verb: "needs X" / "need X"."""
    verb, _, rest = text.partition(" ")
    return Obstacle(text, f"{_PLURAL.get(verb, verb)} {rest}")


def short(requirement: Requirement) -> str:
    """A requirement without its marker: "numpy<2.3", "black[d]>=24"."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def wheel_obstacle(
    files: Sequence[UpstreamFile],
    target: Target,
    catalogue: Catalogue,
    baselines: Baselines,
    verify: bool = False,
) -> tuple[UpstreamFile, None] | tuple[None, Obstacle]:
    """The wheel pip would install from one release's files and None, or None and why
    there is none.

    A fitting wheel whose metadata is malformed is passed over (and noted for `target` in
    the catalogue), as a resolver passes over a candidate it cannot use. Its metadata is
    read where Requires-Python needs it and, with `verify`, for the wheel returned (callers
    that will use that wheel's metadata).
    """
    usable = [f for f in files if not f.yanked]
    if not usable:
        return None, Obstacle("is yanked", "are yanked")
    python = interpreter_version(target)
    wheels = [f for f in usable if f.is_wheel]
    if not wheels:
        sdist_python = next((f.requires_python for f in usable if f.requires_python), None)
        if not python_admits(sdist_python, python):
            return None, _same(f"needs Python {sdist_python}")
        return None, Obstacle("has only an sdist", "have only an sdist")
    ranks = tag_ranks(target, baselines)
    fitting = sorted(
        (min(ranks[t] for t in tags), f.filename, f)
        for f in wheels
        if (tags := [t for t in wheel_tags(f.filename) if t in ranks])
    )
    refused: list[str] = []  # the Requires-Python of fitting wheels that refuse `python`
    unusable: list[MalformedDistribution] = []
    for *_, wheel in fitting:  # Requires-Python is checked in pip's order: metadata is read lazily
        try:
            requires_python = catalogue.requires_python(wheel)
            if verify and python_admits(requires_python, python):
                catalogue.metadata(wheel)
        except MalformedDistribution as error:
            catalogue.pass_over(target, wheel, error)
            unusable.append(error)
            continue
        if python_admits(requires_python, python):
            return wheel, None
        refused.append(str(requires_python))
    if refused:
        return None, _same(f"needs Python {refused[0]}")
    if unusable:
        return None, replace(_same(f"has an unusable wheel ({unusable[0]})"), unusable=True)
    declared = next((f.requires_python for f in wheels if f.requires_python), None)
    if declared is None:
        try:  # a guess for the explanation only: no wheel fits anyway
            declared = catalogue.requires_python(wheels[0])
        except MalformedDistribution:
            declared = None
    if not python_admits(declared, python):
        return None, _same(f"needs Python {declared}")
    return None, _tag_obstacle([f.filename for f in wheels], target)


def _tag_obstacle(filenames: list[str], target: Target) -> Obstacle:
    baseline = baseline_needed(filenames, target)
    if baseline and target.os == "linux":
        tag, minor = f"manylinux_{baseline[0]}_{baseline[1]}", baseline[1]
        if target.python_tuple >= (3, 0):  # uv resolves only for the glibc minors it knows
            minor = next((m for m in UV_GLIBC_MINORS if m >= minor), minor)
        fix = f"raise manylinux_glibc_minor to {minor} to get"
        return Obstacle(f"needs {tag}: {fix} it", f"need {tag}: {fix} them")
    if baseline:
        version = f"{baseline[0]}.{baseline[1]}"
        fix = f"set [bridge] macos_baseline {target.subdir} to {version} to get"
        return Obstacle(f"needs macOS {version}: {fix} it", f"need macOS {version}: {fix} them")
    platforms = {
        "any",
        *platform_tags(target.subdir, manylinux=(2, 99), macos={target.subdir: (99, 0)}),
    }
    for_platform = any(t.platform in platforms for name in filenames for t in wheel_tags(name))
    if for_platform:
        return _same(f"has no wheel for Python {target.python} on {target.subdir}")
    return _same(f"has no wheel for {target.subdir}")


def _dependency_obstacle(
    wheel: UpstreamFile,
    extras: Sequence[str],
    target: Target,
    catalogue: Catalogue,
    baselines: Baselines,
) -> Obstacle | None:
    """One level down: a dependency of this release that no release can meet on `target`."""
    try:
        requires = active_requirements(catalogue.metadata(wheel).requires_dist, target, extras)
    except BridgeError:
        return None
    for requirement in requires:
        try:
            releases = catalogue.releases(requirement.name)
        except BridgeError:
            return _same(f"requires {requirement.name}, which the upstream does not have")
        usable = [v for v, files in releases.items() if any(not f.yanked for f in files)]
        allowed = list(requirement.specifier.filter(usable, prereleases=None))[:MAX_RELEASES]
        if not allowed:
            return _same(f"requires {short(requirement)}, which has no such release")
        obstacles: list[tuple[Version, Obstacle]] = []
        for version in allowed:
            _fit, obstacle = wheel_obstacle(releases[version], target, catalogue, baselines)
            if obstacle is None:  # a wheel fits
                break
            obstacles.append((version, obstacle))
        else:
            version, obstacle = obstacles[0]
            name = canonicalize_name(requirement.name)
            return _same(f"requires {short(requirement)}, and {name} {version} {obstacle.one}")
    return None


def release_obstacle(
    project: str,
    version: Version,
    target: Target,
    catalogue: Catalogue,
    baselines: Baselines,
    holders: Sequence[Holder] = (),
) -> tuple[UpstreamFile | None, Obstacle | None]:
    """The wheel `target` would take from one release, or what stops it (before dependencies)."""
    files = catalogue.releases(project).get(version, [])
    wheel, obstacle = wheel_obstacle(files, target, catalogue, baselines)
    if obstacle:
        return None, obstacle
    return wheel, _excluding(holders, version)


def _excluding(holders: Sequence[Holder], version: Version) -> Obstacle | None:
    """The first requirement that excludes `version`, as "held back by ...", or None."""
    for holder in holders:
        if not holder.requirement.specifier.contains(version, prereleases=True):
            who = f"{holder.who}'s requirement" if holder.who else "the request"
            return Obstacle(f"held back by {who} {short(holder.requirement)}", "", standalone=True)
    return None


_CONFLICT = _same("conflicts with the rest of this target's requirements")


def explain(
    project: str,
    pinned: Version,
    target: Target,
    catalogue: Catalogue,
    baselines: Baselines,
    holders: Sequence[Holder] = (),
    extras: Sequence[str] = (),
) -> str:
    """Why `target` got `pinned` and not a newer release of `project`; "" when it is the newest.

    Pre-releases count only when the pin is one; yanked releases never count. Releases
    that fit and that no requirement excludes are explained one level down, by a
    dependency that cannot be met (their metadata is fetched in parallel first).
    """
    releases = catalogue.releases(project)
    newer = [
        v
        for v, files in releases.items()
        if v > pinned
        and (pinned.is_prerelease or not v.is_prerelease)
        and any(not f.yanked for f in files)
    ][:MAX_RELEASES]
    found = {v: release_obstacle(project, v, target, catalogue, baselines, holders) for v in newer}
    unexplained = {v: wheel for v, (wheel, obstacle) in found.items() if obstacle is None and wheel}
    if unexplained:
        catalogue.prefetch(wheels=unexplained.values())
        names = [
            r.name
            for wheel in unexplained.values()
            for r in active_requirements(_requires_dist(catalogue, wheel), target, extras)
        ]
        catalogue.prefetch(projects=names)
    groups: dict[Obstacle, list[Version]] = {}
    for version, (wheel, obstacle) in found.items():
        if obstacle is None and wheel:  # its metadata is fetched: is it usable?
            wheel, obstacle = wheel_obstacle(
                releases[version], target, catalogue, baselines, verify=True
            )
        if obstacle is None and wheel:
            obstacle = (
                _dependency_obstacle(wheel, extras, target, catalogue, baselines) or _CONFLICT
            )
        if obstacle:
            groups.setdefault(obstacle, []).append(version)
    return "; ".join(_sentence(obstacle, versions) for obstacle, versions in groups.items())


def explain_recipe(
    project: str,
    pinned: Version,
    target: Target,
    catalogue: Catalogue,
    holders: Sequence[Holder] = (),
) -> str:
    """Why a project that needs a recipe on `target` builds `pinned` and not a newer sdist."""
    python = interpreter_version(target)
    groups: dict[Obstacle, list[Version]] = {}
    for version, files in catalogue.releases(project).items():
        if version <= pinned or (version.is_prerelease and not pinned.is_prerelease):
            continue
        sdists = [f for f in files if not f.is_wheel and not f.yanked]
        if not sdists:
            obstacle: Obstacle | None = _same("has no sdist")
        elif not any(python_admits(f.requires_python, python) for f in sdists):
            obstacle = _same(f"needs Python {sdists[0].requires_python}")
        else:
            obstacle = _excluding(holders, version)
        if obstacle:
            groups.setdefault(obstacle, []).append(version)
    return "; ".join(_sentence(obstacle, versions) for obstacle, versions in groups.items())


def _requires_dist(catalogue: Catalogue, wheel: UpstreamFile) -> tuple[str, ...]:
    try:
        return catalogue.metadata(wheel).requires_dist
    except BridgeError:
        return ()


def _sentence(obstacle: Obstacle, versions: list[Version]) -> str:
    if obstacle.standalone:
        return obstacle.one
    if len(versions) == 1:
        return f"{versions[0]} {obstacle.one}"
    if len(versions) == 2:
        return f"{versions[0]} and {versions[1]} {obstacle.many}"
    return f"{versions[-1]} to {versions[0]} ({len(versions)} releases) {obstacle.many}"
