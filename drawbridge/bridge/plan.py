"""Plan a bridge: for each project of the closure, which version each target gets and how.

The resolver (`resolve`) says what pip with `--only-binary :all:` would install on each
target. The planner turns that into routes per target: *upstream* (the upstream conda
channels carry a version that satisfies every requirement on the project there: depend on
it, bridge nothing to conda), *wheel* (repack the wheel that target gets), *recipe* (no
wheel fits: the sdist needs a reviewed recipe). The pip view is closure-complete whatever
the conda side decides: the wheel of every *upstream* and *wheel* target goes to it (an
*upstream* project's wheels go to pip only). Targets of a project are grouped by what they
get, so the plan can say "3.9 and 3.10 get 2.2.6: 2.3.0 needs Python >=3.11". It decides;
it downloads nothing but metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from drawbridge.bridge.wheels.packages_to_make import Build, WheelChoice, plan_builds
from drawbridge.bridge.upstream.conda_mirror import CondaUpstream
from drawbridge.bridge.translate.deps import (
    Dropped,
    UnexpressibleRequirement,
    conda_version_spec,
    translate,
)
from drawbridge.bridge.translate.markers import active_requirements
from drawbridge.bridge.translate.names import NameTable, newest_spellings, spelt_twice
from drawbridge.bridge.resolve.pins import Pin, TargetResolution
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.upstream.pypi import UnknownUpstreamProject, Upstream, UpstreamFile
from drawbridge.bridge.resolve.per_target import condense_problem, parse_requests, resolve
from drawbridge.bridge.translate.targets import DEFAULT_MACOS, DEFAULT_MANYLINUX, Target

Route = Literal["upstream", "wheel", "recipe", "cannot"]

__all__ = [
    "Build",
    "BridgePlan",
    "CondaUpstream",
    "ProjectPlan",
    "Route",
    "TargetGroup",
    "make_plan",
]


@dataclass(frozen=True)
class TargetGroup:
    """Targets that get the same release of a project by the same route, and why."""

    version: str
    route: Route
    targets: tuple[Target, ...]
    note: str = ""


@dataclass(frozen=True)
class ProjectPlan:
    """What happens to one project of the closure, target by target."""

    project: str
    conda_name: str
    groups: tuple[TargetGroup, ...] = ()
    builds: tuple[Build, ...] = ()
    recipe_version: str | None = None  # the sdist release a recipe would build
    dropped: tuple[Dropped, ...] = ()
    requested_by: str = ""
    problem: str = ""  # why nothing can be done for it at all (a "cannot" project)
    #: the wheel of every target routed upstream or wheel: what the pip view gets
    pip_wheels: tuple[UpstreamFile, ...] = ()

    @property
    def route(self) -> Route:
        """The project's main route: wheel if anything is repacked, else recipe, else upstream."""
        routes = {group.route for group in self.groups}
        for route in ("wheel", "recipe", "upstream"):
            if route in routes:
                return route
        return "cannot"

    @property
    def version(self) -> str | None:
        """The newest release any target gets."""
        versions = [group.version for group in self.groups if group.version]
        return max(versions, key=Version) if versions else None

    @property
    def wheels(self) -> tuple[UpstreamFile, ...]:
        """The wheels repacked into conda packages."""
        return tuple({b.wheel.filename: b.wheel for b in self.builds}.values())

    @property
    def pip_only(self) -> tuple[UpstreamFile, ...]:
        """The wheels that go to the pip view only: their targets' conda side is upstream."""
        repacked = {wheel.filename for wheel in self.wheels}
        return tuple(w for w in self.pip_wheels if w.filename not in repacked)

    @property
    def needs_recipe(self) -> tuple[Target, ...]:
        return tuple(t for group in self.groups if group.route == "recipe" for t in group.targets)

    @property
    def reason(self) -> str:
        """Why nothing can be done, or the notes of the groups that are not repacked."""
        if self.problem:
            return self.problem
        return "; ".join(
            dict.fromkeys(g.note for g in self.groups if g.note and g.route != "wheel")
        )


@dataclass(frozen=True)
class BridgePlan:
    """The plan of every project, and the targets that could not be resolved at all."""

    projects: list[ProjectPlan]
    problems: list[tuple[Target, str]]
    warnings: list[tuple[Target | None, str]]  # None: about the run, not one target


def make_plan(
    requirements: Sequence[str],
    upstream: Upstream,
    conda_upstream: CondaUpstream | None,
    targets: Sequence[Target],
    names: NameTable,
    *,
    cache_dir: Path,
    extras: Sequence[str] = (),
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
    macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS,
    on_target: Callable[[TargetResolution], None] | None = None,
    published: Sequence[tuple[str, str]] = (),
    configured: Sequence[Target] = (),
) -> tuple[BridgePlan, NameTable]:
    """Resolve the requirements for every target and plan each project of the closure.

    `published` are the (conda name, version) pairs the target channel already serves.
    `configured` are the targets of the home's `[bridge]` and the run's together (default:
    `targets`): a noarch package claims them, so it is made only where it covers what it
    claims of them (`builds.plan_builds`).

    Returns the plan and the name table it used (the given one, having learnt the
    upstream's names, the channel's and the projects' spellings: `names`' order), for
    repacking and recipes.
    """
    screened = {text: _refused_request(text, upstream, names) for text in requirements}
    refused = [plan for plan in screened.values() if plan is not None]
    wanted = [text for text, plan in screened.items() if plan is None]
    requests = {canonicalize_name(r.name): r for r in parse_requests(wanted, extras)}
    resolutions = (
        resolve(
            wanted,
            upstream,
            targets,
            cache_dir=cache_dir,
            manylinux=manylinux,
            macos=macos,
            extras=extras,
            on_progress=on_target,
        )
        if wanted
        else []
    )
    names = _learn_names(names, conda_upstream, published, resolutions)
    planner = _Planner(requests, conda_upstream, names, extras, [*targets, *configured])
    projects = sorted(
        {project for r in resolutions for project in (*r.pins, *r.unmet)},
        key=_discovery_order(resolutions),
    )
    plan = BridgePlan(
        projects=[*(planner.plan_project(project, resolutions) for project in projects), *refused],
        problems=[
            (r.target, condense_problem(r.problem))
            for r in resolutions
            if r.problem and not r.unmet
        ],
        warnings=[
            *((None, w) for w in _spelt_twice_warnings(published, names)),
            *((r.target, w) for r in resolutions for w in r.warnings),
        ],
    )
    return plan, names


def _learn_names(
    names: NameTable,
    conda_upstream: CondaUpstream | None,
    published: Sequence[tuple[str, str]],
    resolutions: Sequence[TargetResolution],
) -> NameTable:
    """The table knowing, in this order, the upstream mirror's names, the channel's, and the
    spelling of each project's newest resolved release (its METADATA's; a recipe pin's, who
    has none, only when no target got a wheel)."""
    pins = [pin for r in resolutions for pin in r.pins.values()]
    names = names.with_spellings(conda_upstream.names if conda_upstream else [])
    names = names.with_spellings(newest_spellings(published).values())
    names = names.with_spellings(
        newest_spellings((p.name, p.version) for p in pins if p.wheel).values()
    )
    return names.with_spellings(newest_spellings((p.name, p.version) for p in pins).values())


def _spelt_twice_warnings(published: Sequence[tuple[str, str]], names: NameTable) -> list[str]:
    """A warning for each project the channel already holds under two conda names."""
    return [
        f"the channel holds {project} as {' and '.join(spellings)}: this run uses "
        f"{names.conda_name(project)}; remove the other's files once nothing needs them"
        for project, spellings in spelt_twice(published).items()
    ]


def _refused_request(text: str, upstream: Upstream, names: NameTable) -> ProjectPlan | None:
    """A "cannot" plan for a request that no target could meet (invalid, unknown, or no
    release satisfies it), so the rest of the batch still resolves together; else None."""
    try:
        requirement = parse_requests([text])[0]
    except BridgeError as error:
        return ProjectPlan(text, text, problem=str(error))
    project = canonicalize_name(requirement.name)
    conda_name = names.conda_name(requirement.name)
    try:
        files = [f for f in upstream.files(project) if not f.yanked]
    except UnknownUpstreamProject as error:
        return ProjectPlan(project, conda_name, problem=str(error))
    versions = sorted({f.version for f in files}, key=Version, reverse=True)
    if not any(requirement.specifier.contains(v, prereleases=True) for v in versions):
        offered = ", ".join(versions[:5]) or "nothing"
        return ProjectPlan(
            project,
            conda_name,
            problem=f"no version satisfies {requirement}; upstream has {offered}",
        )
    return None


def _discovery_order(
    resolutions: Sequence[TargetResolution],
) -> Callable[[NormalizedName], tuple[int, str]]:
    """Requested projects first, then the others by name."""
    requested = {p for r in resolutions for p, pin in r.pins.items() if "" in pin.required_by}
    requested |= {p for r in resolutions for p in r.unmet}
    return lambda project: (0 if project in requested else 1, project)


class _Planner:
    """Decides the route of each (project, target) and groups the results."""

    def __init__(
        self,
        requests: Mapping[NormalizedName, Requirement],
        conda_upstream: CondaUpstream | None,
        names: NameTable,
        extras: Sequence[str],
        configured: Sequence[Target],
    ) -> None:
        self.requests, self.conda_upstream, self.names = requests, conda_upstream, names
        self.extras = tuple(extras)
        #: what a noarch package claims: the configured subdirs and Pythons
        self.subdirs = sorted({t.subdir for t in configured})
        self.pythons = sorted({t.python for t in configured}, key=Version)

    def plan_project(
        self, project: NormalizedName, resolutions: Sequence[TargetResolution]
    ) -> ProjectPlan:
        statuses: dict[tuple[str, Route, str], list[Target]] = {}
        choices: dict[Target, WheelChoice] = {}
        dropped: dict[str, Dropped] = {}
        left_out: list[dict[str, Dropped]] = []  # per wheel target: requirements false there
        recipe_versions: list[str] = []
        requested_by: set[str] = set()
        pip_wheels: dict[str, UpstreamFile] = {}
        for resolution in resolutions:
            pin = resolution.pins.get(project)
            if project in resolution.unmet:
                statuses.setdefault(("", "cannot", resolution.unmet[project]), []).append(
                    resolution.target
                )
            if pin is None:
                continue
            target = resolution.target
            requested_by.update(b for b in pin.required_by if b)
            route, note = self._route(pin, resolution)
            if route in ("upstream", "wheel") and pin.wheel is not None:
                pip_wheels.setdefault(pin.wheel.filename, pin.wheel)
            if route == "wheel":
                assert pin.wheel is not None and pin.requires_dist is not None
                translation = translate(
                    pin.requires_dist, [target], self.names, self._extras_of(project)
                )
                choices[target] = WheelChoice(
                    pin.wheel, translation.depends[target], pin.requires_python
                )
                dropped.update({d.requirement: d for d in translation.dropped if d.unexpressible})
                left_out.append(
                    {d.requirement: d for d in translation.dropped if not d.unexpressible}
                )
            elif route == "recipe":
                recipe_versions.append(pin.version)
            statuses.setdefault((pin.version, route, note), []).append(target)
        if left_out:  # false on every target: reported once, as left out
            common = set(left_out[0]).intersection(*left_out[1:])
            dropped.update(
                {requirement: left_out[0][requirement] for requirement in sorted(common)}
            )
        groups = tuple(
            TargetGroup(version, route, tuple(sorted(members)), note)
            for (version, route, note), members in sorted(statuses.items(), key=_group_order)
        )
        return ProjectPlan(
            project=project,
            conda_name=self.names.conda_name(project),
            groups=groups,
            builds=tuple(plan_builds(choices, self.subdirs, self.pythons)),
            recipe_version=max(recipe_versions, key=Version) if recipe_versions else None,
            dropped=tuple(dropped.values()),
            requested_by=", ".join(sorted(requested_by)),
            pip_wheels=tuple(pip_wheels[name] for name in sorted(pip_wheels)),
        )

    def _route(self, pin: Pin, resolution: TargetResolution) -> tuple[Route, str]:
        spec = self._upstream_spec(pin.project, resolution)
        if spec is not None and self.conda_upstream is not None:
            name = self.names.conda_name(pin.project)
            if self.conda_upstream.carries(name, spec, resolution.target):
                return "upstream", f"upstream conda carries {name} {spec}".strip()
        if pin.wheel is None:
            return "recipe", pin.no_wheel or "no wheel fits: needs a reviewed recipe"
        return "wheel", pin.held_back

    def _upstream_spec(self, project: NormalizedName, resolution: TargetResolution) -> str | None:
        """Every requirement on `project` in the target's closure as one conda version spec
        ('' for any version), or None when one of them cannot be said in conda's terms."""
        wanted = [self.requests[project]] if project in self.requests else []
        for pin in resolution.pins.values():
            active = active_requirements(
                pin.requires_dist or (), resolution.target, self._extras_of(pin.project)
            )
            wanted += [r for r in active if canonicalize_name(r.name) == project]
        try:
            parts = [conda_version_spec(r.specifier, str(r)) for r in wanted]
        except UnexpressibleRequirement:
            return None
        return ",".join(dict.fromkeys(p for part in parts for p in part.split(",") if p))

    def _extras_of(self, project: NormalizedName) -> tuple[str, ...]:
        request = self.requests.get(project)
        return tuple(sorted(set(self.extras) | set(request.extras))) if request else ()


def _group_order(item: tuple[tuple[str, Route, str], list[Target]]) -> tuple[Target, Version]:
    """Groups in the order of their first target, as the plan table reads them."""
    (version, _route, _note), members = item
    return min(members), Version(version or "0")
