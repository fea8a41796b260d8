"""A bridge run as one library call: plan, fetch, repack, publish, write pending recipes.

The `drawbridge bridge` command and the approval of a bridging request both call
`run_bridge` and render the `BridgeReport` it returns; progress reaches them through a
`BridgeProgress` they pass in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from drawbridge.bridge.wheels.packages_to_make import Build
from drawbridge.bridge.installable.claims import Baseline, claims
from drawbridge.bridge.upstream.conda_mirror import CondaUpstream
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.execute import Outcome, execute
from drawbridge.bridge.installable.check import Report, check_channel, check_installable
from drawbridge.bridge.translate.names import NameTable, default_table
from drawbridge.bridge.resolve.pins import TargetResolution
from drawbridge.bridge.plan import BridgePlan, ProjectPlan, make_plan
from drawbridge.bridge.policy.holding import PolicyGate
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.bridge.upstream.pypi import FolderUpstream, SimpleIndexUpstream, Upstream
from drawbridge.bridge.recipes.book import Recipe, RecipeBook
from drawbridge.bridge.translate.targets import Target
from drawbridge.bridge.translate.targets import targets as all_targets
from drawbridge.channel.held import HeldFiles
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels
from drawbridge.channel.upstream_conda import upstream_locations


@dataclass(frozen=True)
class BridgeOptions:
    """What to bridge and for what; empty fields take the home's `[bridge]` settings."""

    requirements: tuple[str, ...]
    channel: str
    platforms: tuple[str, ...] = ()
    pythons: tuple[str, ...] = ()
    upstream_pypi: str = ""
    upstream_conda: tuple[str, ...] | None = None
    extras: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class BridgeReport:
    """What a run planned and what became of it."""

    plan: BridgePlan
    outcomes: list[Outcome] = field(default_factory=list)
    recipes_written: list[Recipe] = field(default_factory=list)
    unchecked: list[Target] = field(default_factory=list)  # no channel gives them a python
    recipes_failed: list[tuple[str, str]] = field(default_factory=list)  # (project, why)

    @property
    def plans(self) -> list[ProjectPlan]:
        return self.plan.projects

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)


class BridgeProgress(Protocol):
    """How a run reports while it works; every method may be a no-op."""

    def planning(self, targets: int) -> None: ...

    def resolved(self, resolution: TargetResolution) -> None: ...

    def planned(self, plan: BridgePlan, recipes: dict[str, Recipe]) -> None: ...

    def bridging(self, steps: int) -> None: ...

    def step(self, label: str) -> None: ...


class QuietProgress:
    """A `BridgeProgress` that says nothing."""

    def planning(self, targets: int) -> None:
        pass

    def resolved(self, resolution: TargetResolution) -> None:
        pass

    def planned(self, plan: BridgePlan, recipes: dict[str, Recipe]) -> None:
        pass

    def bridging(self, steps: int) -> None:
        pass

    def step(self, label: str) -> None:
        pass


def open_upstream(location: str, cache_dir: Path) -> Upstream:
    """A drop folder when `location` is a folder, else a simple index URL."""
    folder = Path(location.removeprefix("file://"))
    if location.startswith(("/", ".", "file://")) or folder.is_dir():
        return FolderUpstream(folder)
    return SimpleIndexUpstream(location, DownloadCache(cache_dir))


def run_bridge(
    home: Home,
    channels: Channels,
    recipes: RecipeBook,
    options: BridgeOptions,
    actor: str,
    progress: BridgeProgress | None = None,
) -> BridgeReport:
    """Plan `options.requirements` and their closure; unless a dry run, bridge them into
    `options.channel` and write a pending recipe for each project that needs one."""
    report = progress or QuietProgress()
    channels.layout(options.channel)
    location = options.upstream_pypi or home.bridge.upstream_pypi
    upstream = open_upstream(location, home.cache_dir)
    try:
        return _plan_and_bridge(home, channels, recipes, options, actor, report, upstream)
    finally:
        upstream.close()


def _plan_and_bridge(
    home: Home,
    channels: Channels,
    recipes: RecipeBook,
    options: BridgeOptions,
    actor: str,
    report: BridgeProgress,
    upstream: Upstream,
) -> BridgeReport:
    settings = home.bridge
    targets = all_targets(
        options.platforms or settings.platforms, options.pythons or settings.pythons
    )
    configured = configured_targets(home, options)
    conda_channels = upstream_conda_channels(home, options)
    conda_upstream = (
        CondaUpstream(conda_channels, [t.subdir for t in targets]) if conda_channels else None
    )
    report.planning(len(targets))
    plan, names = make_plan(
        options.requirements,
        upstream,
        conda_upstream,
        targets,
        default_table(),
        cache_dir=home.cache_dir,
        extras=options.extras,
        manylinux=(2, settings.manylinux_glibc_minor),
        macos=settings.macos,
        on_target=report.resolved,
        published=channels.conda_names(options.channel),
        configured=configured,
    )
    report.planned(plan, {r.name: r for r in recipes.all()})
    if options.dry_run:
        return BridgeReport(plan)
    steps = sum(len(p.wheels) + len(p.pip_only) + len(p.builds) for p in plan.projects)
    report.bridging(steps + 1)  # + the check
    # the targets the new packages claim among the configured ones, and the run's own: the
    # mirror is asked for a python only there (a subdir nothing claims is never read)
    claimed = {t for p in plan.projects for b in p.builds for t in build_claims(b, configured)}
    relevant = [t for t in configured if t in claimed or t in targets]
    unchecked = targets_without_python(conda_upstream, relevant)
    check = partial(
        check_installable,
        channels=[channels.layout(options.channel).conda_dir, *conda_channels],
        targets=[t for t in relevant if t not in unchecked],
        baseline=Baseline.of_site(settings.manylinux_glibc_minor, settings.macos),
    )
    outcomes = execute(
        plan.projects,
        upstream,
        channels,
        options.channel,
        names,
        home.cache_dir / "work",
        check,
        report.step,
        gate=PolicyGate.of_home(home),
        held=HeldFiles(home.root, channels.db),
    )
    written, failed = write_pending_recipes(home, recipes, plan.projects, upstream, names, actor)
    return BridgeReport(
        plan, outcomes, recipes_written=written, recipes_failed=failed, unchecked=unchecked
    )


def configured_targets(home: Home, options: BridgeOptions) -> list[Target]:
    """The home's `[bridge]` platforms × Pythons together with the run's: what a package
    may claim, and where the installability check looks."""
    settings = home.bridge
    return all_targets(
        dict.fromkeys([*settings.platforms, *options.platforms]),
        dict.fromkeys([*settings.pythons, *options.pythons]),
    )


def build_claims(build: Build, targets: Sequence[Target]) -> list[Target]:
    """The targets of `targets` the package `build` makes will claim."""
    if build.target is not None:
        return [build.target] if build.target in targets else []
    return [t for t in targets if claims("noarch", build.depends, t)]


def targets_without_python(
    conda_upstream: CondaUpstream | None, targets: Sequence[Target]
) -> list[Target]:
    """The targets no upstream conda channel has a `python` for: packages cannot be checked
    (nor installed) there until the company's conda mirror is connected."""
    return [
        target
        for target in targets
        if conda_upstream is None or not conda_upstream.has_python(target)
    ]


def upstream_conda_channels(home: Home, options: BridgeOptions) -> tuple[str, ...]:
    """The upstream conda channels of a run: the options', else the home's."""
    if options.upstream_conda is not None:
        return options.upstream_conda
    return tuple(upstream_locations(home.bridge.upstream_conda))


@dataclass(frozen=True)
class ChannelCheck:
    """What `bridge --check` found, and the configured targets it could not look at."""

    report: Report
    unchecked: tuple[Target, ...] = ()  # no upstream conda channel has a python for them


def check_bridged_channel(home: Home, channels: Channels, options: BridgeOptions) -> ChannelCheck:
    """`bridge --check`: every package of the channel that no solver could install on a
    target it claims among the configured ones (the home's and `options`'), against the
    channel and the upstream conda channels, and why. Targets no upstream conda channel has
    a python for are not checked (nothing installs there yet): they are named instead."""
    settings = home.bridge
    conda_channels = upstream_conda_channels(home, options)
    configured = configured_targets(home, options)
    conda_upstream = (
        CondaUpstream(conda_channels, [t.subdir for t in configured]) if conda_channels else None
    )
    unchecked = targets_without_python(conda_upstream, configured)
    report = check_channel(
        [channels.layout(options.channel).conda_dir, *conda_channels],
        [t for t in configured if t not in unchecked],
        baseline=Baseline.of_site(settings.manylinux_glibc_minor, settings.macos),
    )
    return ChannelCheck(report, tuple(unchecked))


def write_pending_recipes(
    home: Home,
    recipes: RecipeBook,
    plans: Sequence[ProjectPlan],
    upstream: Upstream,
    names: NameTable,
    actor: str,
) -> tuple[list[Recipe], list[tuple[str, str]]]:
    """Write recipes (pending review) for projects that some target needs built from the
    sdist and that have no recipe yet."""
    known = set(recipes.names())
    written: list[Recipe] = []
    failed: list[tuple[str, str]] = []
    for plan in plans:
        if not plan.needs_recipe or plan.conda_name in known:
            continue
        try:
            written.append(
                recipes.generate(
                    plan.project,
                    plan.recipe_version,
                    upstream,
                    names,
                    actor,
                    home.bridge.oldest_python3,
                )
            )
        except BridgeError as error:
            failed.append((plan.project, str(error)))
    return written, failed
