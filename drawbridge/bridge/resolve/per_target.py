"""Per-target resolution: what `pip install --only-binary :all:` would install on each target.

For every target (conda subdir × Python, with its glibc and macOS baselines) the request
and its whole closure are resolved as pip would on such a machine: uv does it for
Python 3 (`uv_compile`), a stand-in for pip 19's legacy resolver for Python 2.7
(`legacy_resolver`). Targets may get different versions. A project with no fitting wheel
in any acceptable release gets a pin without a wheel (a recipe builds it) and the rest of
the target still resolves. Each pin carries the wheel pip would take there, its
Requires-Dist, who requires it, and, when it is older than the newest release, why
(`held_back`), with the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from drawbridge.bridge.upstream.metadata import Catalogue
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.resolve.held_back import Baselines, wheel_obstacle
from drawbridge.bridge.resolve.legacy_resolver import resolve_like_pip19
from drawbridge.bridge.resolve.pins import Disagreement, Pin, Pinner, TargetResolution, sdist_for
from drawbridge.bridge.upstream.pypi import Upstream
from drawbridge.bridge.translate.targets import DEFAULT_MACOS, DEFAULT_MANYLINUX, Target
from drawbridge.bridge.resolve.uv_compile import (
    ResolverFailed,
    UvSource,
    compile_target,
    named_projects,
    uv_platform,
    uv_source,
)
from drawbridge.bridge.resolve.uv_process import uv_binary

__all__ = ["InvalidRequest", "Pin", "TargetResolution", "parse_requests", "resolve"]

#: rounds of "take out what has no wheel, or forbid what pip would refuse, and run uv again"
MAX_CORRECTION_ROUNDS = 8


#: targets pinned at once (metadata fetches, explanations) while others still run uv
PINNING_WORKERS = 4


class InvalidRequest(BridgeError):
    """A requirement that is not PEP 508."""


def resolve(
    requirements: Sequence[str],
    upstream: Upstream,
    targets: Sequence[Target],
    *,
    cache_dir: Path,
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
    macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS,
    extras: Sequence[str] = (),
    on_progress: Callable[[TargetResolution], None] | None = None,
    jobs: int = 8,
) -> list[TargetResolution]:
    """Resolve `requirements` (with `extras` for each) for every target, `jobs` targets at once.

    Raises InvalidRequest for a requirement that does not parse, UnknownUpstreamProject
    for a requested project the upstream does not have, UnsupportedTarget for a target uv
    cannot resolve for; a target whose request cannot be met comes back with `problem` set.
    `cache_dir` keeps core metadata (by sha256) and uv's cache. `on_progress` is called
    with each target's result as it is done. Results come in the order of `targets`.
    """
    requests = parse_requests(requirements, extras)
    baselines = Baselines.of(manylinux, macos)
    source = uv_source(upstream) if any(t.python_tuple >= (3, 0) for t in targets) else None
    for target in targets:
        if target.python_tuple >= (3, 0):
            uv_platform(target.subdir, manylinux)
            uv_binary()
    catalogue = Catalogue(upstream, cache_dir)
    try:
        if requests:  # one listing first: a drop folder is scanned once, not by every thread
            catalogue.files(requests[0].name)
        catalogue.prefetch(projects=[r.name for r in requests])
        for request in requests:
            catalogue.files(request.name)  # an unknown project is the caller's mistake: raise
        resolver = _TargetResolver(requests, catalogue, baselines, source, cache_dir / "uv")
        done = _choose_then_pin(resolver, targets, jobs, on_progress)
        return [done[target] for target in targets]
    finally:
        catalogue.close()


def _choose_then_pin(
    resolver: _TargetResolver,
    targets: Sequence[Target],
    jobs: int,
    on_progress: Callable[[TargetResolution], None] | None,
) -> dict[Target, TargetResolution]:
    """Choose versions `jobs` targets at a time and pin each as soon as it is chosen.

    Choosing (uv) and pinning (metadata, explanations) have pools of their own, so uv
    runs are not held up by pinning. An error cancels what has not started.
    """
    done: dict[Target, TargetResolution] = {}
    with (
        ThreadPoolExecutor(max(1, jobs), thread_name_prefix="choose") as choosers,
        ThreadPoolExecutor(PINNING_WORKERS, thread_name_prefix="pin") as pinners,
    ):
        choosing = {choosers.submit(resolver.choose, target): target for target in targets}
        pinning: set[Future[TargetResolution]] = set()
        try:
            while choosing or pinning:
                running: list[Future[Any]] = [*choosing, *pinning]  # choices and pins
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future in choosing:
                        target = choosing.pop(future)
                        pinning.add(pinners.submit(resolver.pin, target, future.result()))
                        continue
                    pinning.discard(future)
                    result: TargetResolution = future.result()
                    done[result.target] = result
                    if on_progress:
                        on_progress(result)
        except BaseException:
            running = [*choosing, *pinning]
            for future in running:
                future.cancel()
            raise
    return done


def condense_problem(text: str) -> str:
    """A resolver's "no solution" report in one line: its hint when it gives one, else its
    first reason, without uv's banner and indentation."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    hints = [line.removeprefix("hint: ") for line in lines if line.startswith("hint:")]
    reasons = [
        line.removeprefix("cause: ")
        for line in lines
        if not line.startswith(("hint:", "No solution found"))
    ]
    return hints[0] if hints else " ".join(reasons) or text.strip()


def parse_requests(requirements: Sequence[str], extras: Sequence[str] = ()) -> list[Requirement]:
    """The requirements as PEP 508, each with `extras` added; InvalidRequest names a bad one."""
    requests = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise InvalidRequest(f"{text!r} is not a valid requirement: {error}") from error
        requirement.extras |= set(extras)
        requests.append(requirement)
    return requests


@dataclass(frozen=True)
class _Choice:
    """One target's chosen versions, before pinning."""

    versions: dict[NormalizedName, str]
    recipes: set[NormalizedName]
    problem: str = ""
    warnings: tuple[str, ...] = ()
    #: requests that cannot be met alone
    unmet: dict[NormalizedName, str] = field(default_factory=dict)


class _TargetResolver:
    """Resolves one target at a time; shared, thread-safe state lives in the catalogue."""

    def __init__(
        self,
        requests: list[Requirement],
        catalogue: Catalogue,
        baselines: Baselines,
        source: UvSource | None,
        uv_cache: Path,
    ) -> None:
        self.requests, self.catalogue, self.baselines = requests, catalogue, baselines
        self.source, self.uv_cache = source, uv_cache

    def choose(self, target: Target) -> _Choice:
        """The versions for `target` (uv, or pip 19's rules for Python 2), before any pinning.

        A request that cannot be met on this target must not take the others down with it
        (a batch is bridged as far as it can be): when the requests fail together, those that
        fail alone are set aside, each saying why, and the rest are resolved together again;
        only if they still conflict are they merged one by one, the clash named.
        """
        joint = self._choose(target, self.requests)
        if not joint.problem:
            return joint
        if len(self.requests) == 1:
            [request] = self.requests
            return replace(
                joint,
                unmet={
                    canonicalize_name(request.name): self._why_unmet(request, target, joint.problem)
                },
            )
        alone = {canonicalize_name(r.name): (r, self._choose(target, [r])) for r in self.requests}
        unmet = {
            name: self._why_unmet(request, target, choice.problem)
            for name, (request, choice) in alone.items()
            if choice.problem
        }
        met = [request for name, (request, _choice) in alone.items() if name not in unmet]
        if unmet and len(met) > 1:  # the others together, as they would be without the unmet
            together = self._choose(target, met)
            if not together.problem:
                return replace(together, unmet=unmet)
        if not met:
            return replace(joint, unmet=unmet)
        return self._merge(
            [(request, alone[canonicalize_name(request.name)][1]) for request in met], unmet, joint
        )

    def _merge(
        self,
        chosen: list[tuple[Requirement, _Choice]],
        unmet: dict[NormalizedName, str],
        joint: _Choice,
    ) -> _Choice:
        """Requests resolved alone, merged in order: a request whose closure clashes with an
        earlier one's is unmet, named with the clash."""
        merged = _Choice({}, set(), unmet=dict(unmet))
        owners: dict[NormalizedName, str] = {}  # project -> the request whose closure pinned it
        for request, alone in chosen:
            name = canonicalize_name(request.name)
            clash = next(
                (p for p, v in alone.versions.items() if merged.versions.get(p, v) != v), None
            )
            if clash is not None:
                merged.unmet[name] = (
                    f"needs {clash} {alone.versions[clash]}, but {owners[clash]} needs {clash} "
                    f"{merged.versions[clash]} here: bridge them in separate runs"
                )
                continue
            for project, version in alone.versions.items():
                merged.versions.setdefault(project, version)
                owners.setdefault(project, name)
            merged.recipes.update(alone.recipes - set(merged.versions))
        return replace(merged, warnings=joint.warnings)

    def _choose(self, target: Target, requests: list[Requirement]) -> _Choice:
        if target.python_tuple < (3, 0):
            legacy = resolve_like_pip19(requests, target, self.catalogue, self.baselines)
            return _Choice(legacy.versions, set(legacy.recipes), legacy.problem, legacy.warnings)
        versions, recipes, problem = self._with_uv(target, requests)
        return _Choice(versions, recipes, problem)

    def _why_unmet(self, request: Requirement, target: Target, problem: str) -> str:
        """Why a request cannot be met on `target`, in the resolver's words when a release's
        wheels explain it ("1.0 needs manylinux_2_28: raise ..."), else the resolver's own."""
        releases = self.catalogue.releases(canonicalize_name(request.name))
        allowed = sorted(request.specifier.filter(releases, prereleases=True), reverse=True)
        if allowed:
            _wheel, obstacle = wheel_obstacle(
                releases[allowed[0]], target, self.catalogue, self.baselines
            )
            if obstacle is not None:
                return obstacle.one if obstacle.standalone else f"{allowed[0]} {obstacle.one}"
        return condense_problem(problem)

    def pin(self, target: Target, choice: _Choice) -> TargetResolution:
        """The chosen versions as pins: wheels, metadata, edges and explanations; the
        warnings name every malformed file the target passed over."""
        if choice.problem:
            passed_over = (*choice.warnings, *self.catalogue.passed_over(target))
            return TargetResolution(target, {}, choice.problem, passed_over, choice.unmet)
        warnings = list(choice.warnings)
        met = [r for r in self.requests if canonicalize_name(r.name) not in choice.unmet]
        try:
            pinner = Pinner(target, met, self.catalogue, self.baselines)
            pins = pinner.pins(choice.versions, choice.recipes, warnings)
        except Disagreement as error:
            return TargetResolution(target, {}, str(error))
        warnings += self.catalogue.passed_over(target)
        return TargetResolution(target, pins, "", tuple(warnings), choice.unmet)

    def _with_uv(
        self, target: Target, requests: list[Requirement]
    ) -> tuple[dict[NormalizedName, str], set[NormalizedName], str]:
        """uv's versions, the projects taken out for want of a wheel, or uv's "no solution".

        Three corrections make uv answer as pip would: a project uv names in "no solution"
        with no wheel for the target is taken out (it becomes a recipe pin), or pinned to
        its newest fitting pre-release when it has one (pip takes a pre-release when no
        final release fits; uv does not); and a release uv took whose Requires-Python pip
        would refuse (uv checks only its lower bound), or whose wheel is malformed, is
        forbidden with a constraint, as is one whose metadata names another project, at
        which uv stops.
        """
        assert self.source is not None
        excluded: set[NormalizedName] = set()
        constraints: set[str] = set()
        for request in requests:
            self._correct(request.name, request.specifier, target, excluded, constraints)
        for _ in range(MAX_CORRECTION_ROUNDS):
            remaining = [str(r) for r in requests if canonicalize_name(r.name) not in excluded]
            if not remaining:
                return {}, excluded, ""
            compiled = compile_target(
                remaining,
                target,
                self.source,
                cache_dir=self.uv_cache,
                manylinux=self.baselines.manylinux,
                macos=dict(self.baselines.macos),
                excluded=excluded,
                constraints=constraints,
            )
            if compiled.misnamed:
                constraints.add(self._malformed_release(compiled.misnamed, target, constraints))
                continue
            if not compiled.no_solution:
                versions = dict(compiled.versions)
                self._prefetch_chosen(versions, target)
                refused = {f"{p}!={v}" for p, v in versions.items() if not self._fits(p, v, target)}
                if not refused:
                    return versions, excluded, ""
                constraints |= refused
                continue
            named = {
                n: s for n, s in named_projects(compiled.no_solution).items() if n not in excluded
            }
            self.catalogue.prefetch(projects=named)
            before = (len(excluded), len(constraints))
            for (
                name
            ) in named:  # first the projects with no wheel in any release, then within specifiers
                self._correct(name, SpecifierSet(), target, excluded, constraints)
            if before == (len(excluded), len(constraints)):
                for name, specifier in named.items():
                    if specifier:
                        self._correct(name, specifier, target, excluded, constraints)
            if before == (len(excluded), len(constraints)):
                return {}, excluded, compiled.no_solution
        return {}, excluded, f"no answer after {MAX_CORRECTION_ROUNDS} rounds of corrections to uv"

    def _prefetch_chosen(self, versions: Mapping[NormalizedName, str], target: Target) -> None:
        """The listings of uv's choice, then the metadata of the wheels it would take, in
        parallel: checking them (`_fits`) and pinning read it next."""
        self.catalogue.prefetch(projects=versions)
        wheels = []
        for project, version in versions.items():
            files = self.catalogue.releases(project).get(Version(version), [])
            wheel, _ = wheel_obstacle(files, target, self.catalogue, self.baselines)
            wheels += [wheel] if wheel else []
        self.catalogue.prefetch(wheels=wheels)

    def _malformed_release(
        self, project: NormalizedName, target: Target, constraints: set[str]
    ) -> str:
        """A constraint forbidding the newest release of `project` not yet forbidden whose
        wheel for `target` is malformed (uv stopped at one and does not say which)."""
        for version, files in self.catalogue.releases(project).items():
            forbid = f"{project}!={version}"
            if forbid not in constraints:
                _fit, obstacle = wheel_obstacle(
                    files, target, self.catalogue, self.baselines, verify=True
                )
                if obstacle is not None and obstacle.unusable:
                    return forbid
        raise ResolverFailed(
            f"uv stopped at a wheel of {project} whose metadata names another project, but "
            f"none of its wheels for {target} does: report this with the upstream's listing"
        )

    def _correct(
        self,
        project: str,
        specifier: SpecifierSet,
        target: Target,
        excluded: set[NormalizedName],
        constraints: set[str],
    ) -> None:
        """Take a wheel-less project out, or pin its fitting pre-release (see `_with_uv`)."""
        name = canonicalize_name(project)
        try:
            releases = self.catalogue.releases(name)
        except BridgeError:
            return
        allowed = list(specifier.filter(releases, prereleases=None))
        if name in excluded or any(self._fits(name, str(v), target) for v in allowed):
            return
        prereleases = [v for v in specifier.filter(releases, prereleases=True) if v.is_prerelease]
        fitting = next((v for v in prereleases if self._fits(name, str(v), target)), None)
        if fitting:
            constraints.add(f"{name}=={fitting}")
        elif any(sdist_for(releases[v], target) for v in allowed):
            excluded.add(name)

    def _fits(self, project: str, version: str, target: Target) -> bool:
        """True if a wheel of `project` `version` fits `target`, all of Requires-Python too,
        and its metadata is usable (a malformed wheel is passed over)."""
        files = self.catalogue.releases(project).get(Version(version), [])
        fit, _ = wheel_obstacle(files, target, self.catalogue, self.baselines, verify=True)
        return fit is not None
