"""A bridge run as one library call: plan, fetch, repack, publish, write pending recipes.

The `drawbridge bridge` command and the approval of a bridging request both call
`run_bridge` and render the `BridgeReport` it returns; progress reaches them through a
`BridgeProgress` they pass in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.execute import Outcome, execute
from drawbridge.bridge.names import NameTable, default_table
from drawbridge.bridge.plan import CondaUpstream, ProjectPlan, make_plan
from drawbridge.bridge.downloads import DownloadCache
from drawbridge.bridge.pypi import FolderUpstream, SimpleIndexUpstream, Upstream
from drawbridge.bridge.recipes import Recipe, RecipeBook
from drawbridge.bridge.targets import targets as all_targets
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels


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

    plans: list[ProjectPlan]
    outcomes: list[Outcome] = field(default_factory=list)
    recipes_written: list[Recipe] = field(default_factory=list)
    recipes_failed: list[tuple[str, str]] = field(default_factory=list)  # (project, why)

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)


class BridgeProgress(Protocol):
    """How a run reports while it works; every method may be a no-op."""

    def planning(self) -> None: ...

    def planned(self, plans: Sequence[ProjectPlan], recipes: dict[str, Recipe]) -> None: ...

    def bridging(self, steps: int) -> None: ...

    def step(self, label: str) -> None: ...


class QuietProgress:
    """A `BridgeProgress` that says nothing."""

    def planning(self) -> None:
        pass

    def planned(self, plans: Sequence[ProjectPlan], recipes: dict[str, Recipe]) -> None:
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
    settings = home.bridge
    channels.layout(options.channel)
    targets = all_targets(options.platforms or settings.platforms, options.pythons or settings.pythons)
    upstream = open_upstream(options.upstream_pypi or settings.upstream_pypi, home.cache_dir)
    conda_channels = settings.upstream_conda if options.upstream_conda is None else options.upstream_conda
    conda_upstream = CondaUpstream(conda_channels, [t.subdir for t in targets]) if conda_channels else None
    names = default_table()
    report.planning()
    plans = make_plan(
        options.requirements, upstream, conda_upstream, targets, names, options.extras,
        manylinux=(2, settings.manylinux_glibc_minor),
    )  # fmt: skip
    report.planned(plans, {r.name: r for r in recipes.all()})
    if options.dry_run:
        return BridgeReport(plans)
    report.bridging(sum(len(p.wheels) + len(p.builds) for p in plans if p.route == "wheel"))
    outcomes = execute(
        plans, upstream, channels, options.channel, names, home.cache_dir / "work", on_step=report.step
    )
    written, failed = write_pending_recipes(home, recipes, plans, upstream, names, actor)
    return BridgeReport(plans, outcomes, written, failed)


def write_pending_recipes(
    home: Home,
    recipes: RecipeBook,
    plans: Sequence[ProjectPlan],
    upstream: Upstream,
    names: NameTable,
    actor: str,
) -> tuple[list[Recipe], list[tuple[str, str]]]:
    """Write recipes (pending review) for recipe-route projects that have none yet."""
    known = set(recipes.names())
    written: list[Recipe] = []
    failed: list[tuple[str, str]] = []
    for plan in plans:
        if plan.route != "recipe" or plan.conda_name in known:
            continue
        try:
            written.append(
                recipes.generate(plan.project, plan.version, upstream, names, actor, home.bridge.oldest_python3)
            )
        except BridgeError as error:
            failed.append((plan.project, str(error)))
    return written, failed
