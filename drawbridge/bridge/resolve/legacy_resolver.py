"""What pip 19.2 (the pip most Python 2.7 machines have) installs with `--only-binary :all:`.

pip 19's legacy resolver does not backtrack: it walks the requirements breadth first, the
first requirement registered for a project wins (later ones are not merged, only their
extras are added), and each project gets its best candidate: the newest version among the
wheels whose tags fit and whose Requires-Python admits the interpreter, a yanked file only
when nothing else is left. A later requirement the chosen version does not meet is only
a warning, as pip 19 prints it. uv does not resolve for Python 2, so this stands in for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from drawbridge.bridge.upstream.metadata import Catalogue, python_admits
from drawbridge.bridge.errors import BridgeError, MalformedDistribution
from drawbridge.bridge.resolve.held_back import Baselines, short, tag_ranks, wheel_obstacle
from drawbridge.bridge.translate.markers import active_requirements, applies, interpreter_version
from drawbridge.bridge.upstream.pypi import UpstreamFile
from drawbridge.bridge.translate.targets import Target, wheel_tags


@dataclass(frozen=True)
class LegacyResult:
    """What pip 19 would install on one target, or why it would stop."""

    versions: dict[NormalizedName, str]  # project -> version with a wheel
    #: project -> version of the sdist it would build (no wheel fits)
    recipes: dict[NormalizedName, str]
    problem: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class _Entry:
    requirement: Requirement
    extras: set[str]
    parents: list[str] = field(default_factory=list)
    processed_extras: set[str] | None = None  # None: not processed yet


class _Pip19:
    def __init__(self, target: Target, catalogue: Catalogue, baselines: Baselines) -> None:
        self.target, self.catalogue, self.baselines = target, catalogue, baselines
        self.rank = tag_ranks(target, baselines)
        self.python = interpreter_version(target)

    def best_wheel(self, requirement: Requirement) -> UpstreamFile | None:
        """pip 19's best candidate: the newest fitting wheel not yanked, a yanked one last; a
        wheel whose metadata is malformed is passed over (noted in the catalogue)."""
        candidates = []
        for version, files in self.catalogue.releases(requirement.name).items():
            for file in files:
                ranks = [self.rank[t] for t in wheel_tags(file.filename) if t in self.rank]
                if file.is_wheel and ranks and python_admits(file.requires_python, self.python):
                    candidates.append((not file.yanked, version, -min(ranks), file))
        allowed = set(requirement.specifier.filter({c[1] for c in candidates}, prereleases=None))
        for *_, file in sorted(
            (c for c in candidates if c[1] in allowed), key=lambda c: c[:3], reverse=True
        ):
            try:
                if python_admits(self.catalogue.requires_python(file), self.python):
                    self.catalogue.metadata(file)  # read next anyway: is it usable?
                    return file
            except MalformedDistribution as error:
                self.catalogue.pass_over(self.target, file, error)
        return None

    def recipe_version(self, requirement: Requirement) -> str | None:
        """The newest release pip 19 would build from an sdist, when no wheel fits."""
        with_sdist = [
            version
            for version, files in self.catalogue.releases(requirement.name).items()
            if any(
                not f.is_wheel and not f.yanked and python_admits(f.requires_python, self.python)
                for f in files
            )
        ]
        allowed = list(requirement.specifier.filter(with_sdist, prereleases=None))
        return str(max(allowed)) if allowed else None

    def why_nothing(self, requirement: Requirement, parent: str) -> str:
        """Why pip 19 would stop at this requirement: the newest matching release's obstacle."""
        who = f"{parent}'s requirement" if parent else "the request"
        releases = self.catalogue.releases(requirement.name)
        allowed = list(requirement.specifier.filter(list(releases), prereleases=None))
        if not allowed:
            return f"{who} {short(requirement)} matches no release of {requirement.name}"
        _, obstacle = wheel_obstacle(
            releases[max(allowed)], self.target, self.catalogue, self.baselines
        )
        reason = f"{max(allowed)} {obstacle.one}" if obstacle else "no release fits"
        return (
            f"{who} {short(requirement)} cannot be met on {self.target}: {reason}, "
            "and no release has a usable wheel or sdist"
        )


def resolve_like_pip19(
    requests: Sequence[Requirement], target: Target, catalogue: Catalogue, baselines: Baselines
) -> LegacyResult:
    """What `pip install --only-binary :all:` 19.2 installs on a machine of `target`.

    Projects with no fitting wheel but an sdist pip 19 could build are returned as recipes;
    their dependencies are unknown and not followed.
    """
    pip = _Pip19(target, catalogue, baselines)
    registered: dict[NormalizedName, _Entry] = {}
    queue: deque[NormalizedName] = deque()

    def register(requirement: Requirement, parent: str) -> str:
        project = canonicalize_name(requirement.name)
        entry = registered.get(project)
        if entry is None:
            registered[project] = _Entry(requirement, set(requirement.extras), [parent])
            queue.append(project)
        elif (
            not parent
            and "" in entry.parents
            and entry.requirement.specifier != requirement.specifier
        ):
            return (
                f"Double requirement given: {requirement} "
                f"(already in {entry.requirement}, name={requirement.name!r})"
            )
        else:
            entry.parents.append(parent)
            if not set(requirement.extras) <= entry.extras:
                entry.extras |= set(requirement.extras)
                if entry.processed_extras is not None:
                    queue.append(project)
        return ""

    for requirement in requests:
        if applies(requirement, target) and (problem := register(requirement, "")):
            return LegacyResult({}, {}, problem)
    versions: dict[NormalizedName, str] = {}
    recipes: dict[NormalizedName, str] = {}
    wheels: dict[NormalizedName, UpstreamFile] = {}
    requires: dict[NormalizedName, list[Requirement]] = {}
    while queue:
        project = queue.popleft()
        entry = registered[project]
        if project in recipes or entry.processed_extras == entry.extras:
            continue
        try:
            if project not in wheels:
                wheel = pip.best_wheel(entry.requirement)
                if wheel is None:
                    recipe = pip.recipe_version(entry.requirement)
                    if recipe is None:
                        return LegacyResult(
                            versions, recipes, pip.why_nothing(entry.requirement, entry.parents[0])
                        )
                    recipes[project] = recipe
                    continue
                wheels[project], versions[project] = wheel, wheel.version
            entry.processed_extras = set(entry.extras)
            metadata = catalogue.metadata(wheels[project])
        except BridgeError as error:
            return LegacyResult(versions, recipes, f"{short(entry.requirement)}: {error}")
        requires[project] = active_requirements(metadata.requires_dist, target, entry.extras)
        for dependency in requires[project]:
            register(dependency, project)
    return LegacyResult(versions, recipes, warnings=tuple(_incompatibilities(versions, requires)))


def _incompatibilities(
    versions: dict[NormalizedName, str], requires: dict[NormalizedName, list[Requirement]]
) -> list[str]:
    """pip 19's closing complaints: a requirement the first-seen choice does not meet."""
    complaints = []
    for project, requirements in requires.items():
        for requirement in requirements:
            have = versions.get(canonicalize_name(requirement.name))
            if have and not requirement.specifier.contains(Version(have), prereleases=True):
                complaints.append(
                    f"{project} {versions[project]} has requirement {short(requirement)}, "
                    f"but pip 19 installs {requirement.name} {have}, which is incompatible"
                )
    return complaints
