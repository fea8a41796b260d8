"""One target's chosen versions as pins: the wheel pip would take, its metadata, its dependents.

Pure decisions over a `Catalogue` (which does the fetching): the wheel is chosen in pip's
tag order, Requires-Dist comes from that wheel's own METADATA, the edges are the
requirements that hold on the target (with the extras in use), and a pin older than
the project's newest release says why (`held_back`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from drawbridge.bridge.upstream.metadata import Catalogue, CoreMetadata, python_admits
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.resolve.held_back import (
    Baselines,
    Holder,
    explain,
    explain_recipe,
    wheel_obstacle,
)
from drawbridge.bridge.translate.markers import active_requirements, applies, interpreter_version
from drawbridge.bridge.upstream.pypi import UpstreamFile
from drawbridge.bridge.translate.targets import Target


class Disagreement(BridgeError):
    """uv chose a release of which no wheel fits the target by our tags (a bug to report)."""


@dataclass(frozen=True)
class Pin:
    """The release of one project a target gets, and the wheel pip would install there."""

    project: NormalizedName
    name: str  # as the project spells it (METADATA Name), e.g. "zope.interface"
    version: str
    wheel: UpstreamFile | None  # None: no wheel fits this target in any acceptable release
    requires_dist: tuple[str, ...] | None  # None: unknown (no wheel: the recipe will say)
    requires_python: str | None
    held_back: str = ""  # why not the newest release, with the fix
    required_by: tuple[str, ...] = ()  # projects that require it; "" = the request itself
    sdist: UpstreamFile | None = None  # for a pin without a wheel: the sdist a recipe builds
    no_wheel: str = ""  # for a pin without a wheel: why none fits

    @property
    def needs_recipe(self) -> bool:
        """True when no wheel fits: a reviewed recipe must build the sdist."""
        return self.wheel is None


@dataclass(frozen=True)
class TargetResolution:
    """Every pin of one target, or the reason the target cannot be resolved at all."""

    target: Target
    pins: Mapping[NormalizedName, Pin]
    problem: str = ""  # set when nothing can be installed: the request cannot be met here
    warnings: tuple[str, ...] = ()  # e.g. what pip 19 would complain about, installing anyway
    unmet: Mapping[NormalizedName, str] = field(default_factory=dict)  # requested -> why not


def sdist_for(files: Sequence[UpstreamFile], target: Target) -> UpstreamFile | None:
    """The release's sdist a recipe would build for `target` (.tar.gz before .zip)."""
    sdists = [
        f
        for f in files
        if not f.is_wheel
        and not f.yanked
        and python_admits(f.requires_python, interpreter_version(target))
    ]
    return min(sdists, key=lambda f: (not f.filename.endswith(".tar.gz"), f.filename), default=None)


class Pinner:
    """Turns one target's chosen versions into pins: wheels, metadata, edges, explanations."""

    def __init__(
        self,
        target: Target,
        requests: list[Requirement],
        catalogue: Catalogue,
        baselines: Baselines,
    ) -> None:
        self.target, self.catalogue, self.baselines = target, catalogue, baselines
        self.requested = {canonicalize_name(r.name): r for r in requests if applies(r, target)}

    def pins(
        self,
        versions: Mapping[NormalizedName, str],
        recipes: set[NormalizedName],
        warnings: list[str],
    ) -> dict[NormalizedName, Pin]:
        """Pins for `versions` (wheels) and `recipes` (no wheel); recipes left out: `warnings`."""
        self.catalogue.prefetch(projects=[*versions, *recipes])
        wheels: dict[NormalizedName, UpstreamFile] = {}
        for project, version in versions.items():
            files = self.catalogue.releases(project).get(Version(version), [])
            wheel, obstacle = wheel_obstacle(
                files, self.target, self.catalogue, self.baselines, verify=True
            )
            if wheel is None:
                raise Disagreement(
                    f"{project} {version} was chosen for {self.target} but no wheel of it fits "
                    f"({obstacle})"
                )
            wheels[project] = wheel
        self.catalogue.prefetch(wheels=wheels.values())
        metadata = {project: self.catalogue.metadata(wheel) for project, wheel in wheels.items()}
        extras, requires = self._edges(metadata)
        holders = self._holders(metadata, requires, versions)
        pins: dict[NormalizedName, Pin] = {}
        for project, wheel in wheels.items():
            pins[project] = Pin(
                project,
                metadata[project].name,
                wheel.version,
                wheel,
                metadata[project].requires_dist,
                self.catalogue.requires_python(wheel),
                self._held_back(project, wheel.version, holders, extras),
                self._required_by(project, requires),
            )
        for project in sorted(recipes):
            pin = self._recipe_pin(project, holders.get(project, []), extras, requires, warnings)
            if pin:
                pins[project] = pin
        return dict(sorted(pins.items()))

    def _edges(
        self, metadata: dict[NormalizedName, CoreMetadata]
    ) -> tuple[dict[NormalizedName, set[str]], dict[NormalizedName, list[Requirement]]]:
        """Each pin's extras in use (request and dependents) and its requirements active here."""
        extras = {project: set(r.extras) for project, r in self.requested.items()}
        while True:
            requires = {
                p: active_requirements(m.requires_dist, self.target, extras.get(p, ()))
                for p, m in metadata.items()
            }
            grown = False
            for requirements in requires.values():
                for requirement in requirements:
                    wanted = extras.setdefault(canonicalize_name(requirement.name), set())
                    if not set(requirement.extras) <= wanted:
                        wanted |= set(requirement.extras)
                        grown = True
            if not grown:
                return extras, requires

    def _holders(
        self,
        metadata: dict[NormalizedName, CoreMetadata],
        requires: dict[NormalizedName, list[Requirement]],
        versions: Mapping[NormalizedName, str],
    ) -> dict[NormalizedName, list[Holder]]:
        holders: dict[NormalizedName, list[Holder]] = {
            p: [Holder("", r)] for p, r in self.requested.items()
        }
        for project, requirements in requires.items():
            for requirement in requirements:
                who = f"{metadata[project].name} {versions[project]}"
                holders.setdefault(canonicalize_name(requirement.name), []).append(
                    Holder(who, requirement)
                )
        return holders

    def _required_by(
        self, project: NormalizedName, requires: dict[NormalizedName, list[Requirement]]
    ) -> tuple[str, ...]:
        parents = {
            p for p, rs in requires.items() if any(canonicalize_name(r.name) == project for r in rs)
        }
        return (("",) if project in self.requested else ()) + tuple(sorted(parents))

    def _held_back(
        self,
        project: NormalizedName,
        version: str,
        holders: dict[NormalizedName, list[Holder]],
        extras: dict[NormalizedName, set[str]],
    ) -> str:
        return explain(
            project,
            Version(version),
            self.target,
            self.catalogue,
            self.baselines,
            holders.get(project, []),
            sorted(extras.get(project, ())),
        )

    def _recipe_pin(
        self,
        project: NormalizedName,
        holders: list[Holder],
        extras: dict[NormalizedName, set[str]],
        requires: dict[NormalizedName, list[Requirement]],
        warnings: list[str],
    ) -> Pin | None:
        """A pin without a wheel: the newest release with an sdist that every requirement admits."""
        required_by = self._required_by(project, requires)
        if not required_by:
            return None  # named in uv's explanation, but nothing here needs it
        releases = self.catalogue.releases(project)
        finals_first = sorted(releases, key=lambda v: (not v.is_prerelease, v), reverse=True)
        for version in finals_first:
            files = releases[version]
            sdist = sdist_for(files, self.target)
            if sdist and all(
                h.requirement.specifier.contains(version, prereleases=True) for h in holders
            ):
                break
        else:
            wants = ", ".join(str(h.requirement) for h in holders)
            warnings.append(
                f"{project} has no wheel for {self.target} and no sdist meets {wants}: it is left "
                "out"
            )
            return None
        spelled = next((h.requirement.name for h in holders), project)
        _, obstacle = wheel_obstacle(files, self.target, self.catalogue, self.baselines)
        reason = f"{version} {obstacle.one}" if obstacle else f"no wheel of {version} fits"
        return Pin(
            project,
            spelled,
            str(version),
            None,
            None,
            sdist.requires_python,
            explain_recipe(project, version, self.target, self.catalogue, holders),
            required_by,
            sdist,
            f"no acceptable release has a wheel for {self.target} ({reason}): a recipe must build "
            f"the sdist; its dependencies are unknown until then",
        )
