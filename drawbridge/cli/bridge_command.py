"""`drawbridge bridge`: render a bridge run (plan, progress, results) for the terminal."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from typing import Annotated, Optional

import typer
from rich.markup import escape
from packaging.version import Version
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from drawbridge.bridge.wheels.packages_to_make import Build
from drawbridge.bridge.execute import Outcome
from drawbridge.bridge.installable.check import Report
from drawbridge.bridge.resolve.pins import TargetResolution
from drawbridge.bridge.plan import BridgePlan
from drawbridge.bridge.recipes.book import Recipe
from drawbridge.bridge.run import BridgeOptions, BridgeReport, check_bridged_channel, run_bridge
from drawbridge.bridge.translate.targets import Target
from drawbridge.cli.common import ChannelOption, HomeOption, console, errors, table
from drawbridge.cli.context import CliContext, open_home


def describe_targets(targets: Sequence[Target], all_subdirs: Sequence[str]) -> str:
    """Targets compactly: `all platforms: py3.9, 3.10`, `linux-64, osx-64: py3.12`."""
    by_subdir: dict[str, list[str]] = {}
    for target in targets:
        by_subdir.setdefault(target.subdir, []).append(target.python)
    by_pythons: dict[tuple[str, ...], list[str]] = {}
    for subdir, versions in sorted(by_subdir.items()):
        by_pythons.setdefault(tuple(sorted(versions, key=Version)), []).append(subdir)
    parts = []
    for pythons, subdirs in by_pythons.items():
        where = (
            "all platforms"
            if all_subdirs and set(subdirs) >= set(all_subdirs)
            else ", ".join(subdirs)
        )
        parts.append(f"{where}: {_python_run(pythons)}")
    return "; ".join(parts)


def _python_run(pythons: Sequence[str]) -> str:
    return "py" + ", ".join(pythons)


def plan_table(plan: BridgePlan, recipes: dict[str, Recipe] | None = None) -> Table:
    """One row per project and group of targets that get the same release the same way."""
    subdirs = sorted({t.subdir for p in plan.projects for g in p.groups for t in g.targets})
    shown = table("project", "version", "route", "targets", "notes", title="Bridge plan")
    for project in plan.projects:
        recipe = (recipes or {}).get(project.conda_name)
        extra_notes = []
        if project.needs_recipe and recipe:
            extra_notes.append(f"recipe {recipe.version}: {recipe.state}")
            if recipe.needs_builder:
                extra_notes.append(f"needs a builder for {recipe.needs_builder}")
        extra_notes += [
            f"cannot express {d.requirement}: {d.reason}"
            for d in project.dropped
            if d.unexpressible
        ]
        left_out = sorted(
            {
                d.requirement.split(";")[0].split("[")[0].strip()
                for d in project.dropped
                if not d.unexpressible
            }
        )
        if left_out:
            extra_notes.append(
                f"left out (extras or markers false on every target): {', '.join(left_out)}"
            )
        if project.requested_by:
            extra_notes.append(f"needed by {project.requested_by}")
        name = (
            project.project
            if project.conda_name == project.project
            else f"{project.project}\n(conda: {project.conda_name})"
        )
        if project.problem:
            shown.add_row(
                escape(name), "", "cannot", "", escape("\n".join([project.problem, *extra_notes]))
            )
        pip_only = {wheel.version for wheel in project.pip_only}
        for index, group in enumerate(project.groups):
            notes = [group.note] if group.note else []
            route: str = group.route
            if group.route == "wheel":
                kinds = {_kind(build) for build in project.builds if build.version == group.version}
                notes.append(" + ".join(sorted(kinds)))
            elif group.route == "upstream" and group.version in pip_only:
                route = "pip only"  # the wheel goes to the pip view, conda depends on upstream
            if index == len(project.groups) - 1:
                notes += extra_notes
            shown.add_row(
                escape(name) if index == 0 else "",
                group.version,
                route,
                describe_targets(group.targets, subdirs),
                escape("\n".join(notes)),
            )
    for target, problem in plan.problems:
        shown.add_row("", "", "[red]unresolved[/]", str(target), escape(problem))
    warned: dict[str, list[Target]] = {}  # each warning once, with the targets it concerns
    for concerned, warning in plan.warnings:
        warned.setdefault(warning, []).extend([concerned] if concerned is not None else [])
    for warning, targets in warned.items():
        where = describe_targets(targets, subdirs)
        shown.add_row("", "", "[yellow]warning[/]", where, escape(warning))
    return shown


def _kind(build: Build) -> str:
    """How the plan names a package: noarch (for one OS: `noarch __linux`) or per target."""
    if build.target is not None:
        return "per target"
    return f"noarch {build.os_virtual}" if build.os_virtual else "noarch"


def pip_only_line(plan: BridgePlan) -> str:
    """The projects whose wheels go to the pip view only ("" if none): the upstream conda
    channels carry them, so no conda package is made, but pip installs them from here."""
    projects = [
        f"{project.project} {', '.join(dict.fromkeys(w.version for w in project.pip_only))}"
        for project in plan.projects
        if project.pip_only
    ]
    if not projects:
        return ""
    return f"pip only (the upstream conda channels carry them): {', '.join(projects)}"


def outcome_table(outcomes: Sequence[Outcome]) -> Table:
    shown = table("project", "version", "route", "result", title="Bridge result")
    for outcome in outcomes:
        style = (
            "green"
            if outcome.ok and outcome.route == "wheel"
            else ("red" if not outcome.ok else "")
        )
        result = escape(outcome.result)
        shown.add_row(
            outcome.project,
            outcome.version or "",
            outcome.route,
            f"[{style}]{result}[/]" if style else result,
        )
    return shown


class TerminalProgress:
    """A `BridgeProgress` for the terminal: a bar over the targets while resolving, the plan
    table, a bar while bridging."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def _start(self, description: str, total: int) -> None:
        self.close()
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def planning(self, targets: int) -> None:
        self._start("resolving targets", targets)

    def resolved(self, resolution: TargetResolution) -> None:
        self.step(f"resolved {resolution.target}")

    def planned(self, plan: BridgePlan, recipes: dict[str, Recipe]) -> None:
        self.close()
        console.print(plan_table(plan, recipes))
        if line := pip_only_line(plan):
            console.print(escape(line))

    def bridging(self, steps: int) -> None:
        self._start("bridging", steps)

    def step(self, label: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, description=label[:60])

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar, self._task = None, None


def run_and_render(context: CliContext, options: BridgeOptions) -> BridgeReport:
    """Run the bridge with a terminal progress display and print its results."""
    progress = TerminalProgress()
    try:
        report = run_bridge(
            context.home, context.channels, context.recipes, options, getpass.getuser(), progress
        )
    finally:
        progress.close()
    if not options.dry_run:
        console.print(outcome_table(report.outcomes))
        wheels = sum(len(outcome.wheels) for outcome in report.outcomes)
        console.print(f"{wheels} wheel(s) published to the pip view ({options.channel}/simple/)")
    if report.unchecked:
        errors.print(
            "[yellow]not checked for installability on "
            f"{describe_targets(report.unchecked, [])}:[/] no upstream "
            "conda channel provides python there, so no solver could install anything for those "
            "targets yet; "
            "connect the company's conda mirror: `drawbridge upstream add NAME URL|FOLDER` "
            "(or --upstream-conda for one run)"
        )
    for recipe in report.recipes_written:
        console.print(
            f"recipe for {recipe.name} {recipe.version} written, pending review: `drawbridge "
            f"recipe show {recipe.name}`"
        )
    for project, why in report.recipes_failed:
        errors.print(f"[yellow]no recipe for {escape(project)}:[/] {escape(why)}")
    return report


def bridge(
    requirements: Annotated[
        Optional[list[str]], typer.Argument(help="PEP 508 requirements, e.g. 'requests>=2'.")
    ] = None,
    home: HomeOption = None,
    channel: ChannelOption = None,
    platform: Annotated[
        Optional[list[str]], typer.Option("--platform", help="Conda subdir (repeatable).")
    ] = None,
    python: Annotated[
        Optional[list[str]], typer.Option("--python", help="Python X.Y (repeatable).")
    ] = None,
    upstream_pypi: Annotated[
        Optional[str], typer.Option(help="Simple index URL or drop folder.")
    ] = None,
    upstream_conda: Annotated[
        Optional[list[str]], typer.Option(help="Upstream conda channel (repeatable).")
    ] = None,
    extra: Annotated[
        Optional[list[str]], typer.Option(help="Extras of the requested projects to include.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Report every package of the channel no solver could install, and why."
        ),
    ] = False,
) -> None:
    """Turn PyPI projects (and their dependencies) into conda packages for every target."""
    context = open_home(home)
    if check:
        if requirements:
            raise typer.BadParameter(
                "--check looks at what the channel holds; give no requirements",
                param_hint="--check",
            )
    options = BridgeOptions(
        requirements=tuple(requirements or ()),
        channel=context.channel(channel),
        platforms=tuple(platform or ()),
        pythons=tuple(python or ()),
        upstream_pypi=upstream_pypi or "",
        upstream_conda=tuple(upstream_conda) if upstream_conda is not None else None,
        extras=tuple(extra or ()),
        dry_run=dry_run,
    )
    if check:
        with console.status("checking every package installs on its targets…"):
            checked = check_bridged_channel(context.home, context.channels, options)
        console.print(check_table(checked.report))
        if checked.unchecked:
            errors.print(
                f"[yellow]not checked on {describe_targets(checked.unchecked, [])}:[/] no "
                "upstream conda channel provides python there"
            )
        if checked.report.failures:
            raise typer.Exit(1)
        return
    if not requirements:
        raise typer.BadParameter(
            "name at least one requirement, e.g. 'requests>=2'", param_hint="REQUIREMENTS"
        )
    if not run_and_render(context, options).ok:
        raise typer.Exit(1)


def check_table(report: Report) -> Table:
    """What `bridge --check` found: every package and target that does not install, and why."""
    shown = table(
        "package",
        "target",
        "why it cannot be installed",
        title=f"Installability: {len(report.verdicts)} checks, {len(report.failures)} failing",
    )
    for verdict in report.failures:
        shown.add_row(
            verdict.package.filename,
            f"{verdict.target.subdir}/py{verdict.target.python}",
            escape(verdict.reason),
        )
    return shown
