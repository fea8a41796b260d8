"""`drawbridge bridge`: render a bridge run (plan, progress, results) for the terminal."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table

from drawbridge.bridge.execute import Outcome
from drawbridge.bridge.plan import ProjectPlan
from drawbridge.bridge.recipes import Recipe
from drawbridge.bridge.run import BridgeOptions, BridgeReport, run_bridge
from drawbridge.cli.common import ChannelOption, HomeOption, console, errors
from drawbridge.cli.context import CliContext, open_home


def plan_table(plans: Sequence[ProjectPlan], recipes: dict[str, Recipe] | None = None) -> Table:
    table = Table("project", "version", "route", "packages", "notes", title="Bridge plan")
    for plan in plans:
        packages = ", ".join("noarch" if b.target is None else str(b.target) for b in plan.builds)
        notes = [plan.reason] if plan.reason else []
        recipe = (recipes or {}).get(plan.conda_name)
        if plan.route == "recipe" and recipe:
            notes.append(f"recipe {recipe.version}: {recipe.state}")
            if recipe.needs_builder:
                notes.append(f"needs a builder for {recipe.needs_builder}")
        notes += [f"cannot express {d.requirement}: {d.reason}" for d in plan.dropped if d.unexpressible]
        left_out = sorted({d.requirement.split(";")[0].split("[")[0].strip() for d in plan.dropped if not d.unexpressible})
        if left_out:
            notes.append(f"left out (extras or markers false on every target): {', '.join(left_out)}")
        if plan.requested_by:
            notes.append(f"needed by {plan.requested_by}")
        table.add_row(plan.project, plan.version or "", plan.route, packages, escape("\n".join(notes)))
    return table


def outcome_table(outcomes: Sequence[Outcome]) -> Table:
    table = Table("project", "version", "route", "result", title="Bridge result")
    for outcome in outcomes:
        style = "green" if outcome.ok and outcome.route == "wheel" else ("red" if not outcome.ok else "")
        result = escape(outcome.result)
        table.add_row(outcome.project, outcome.version or "", outcome.route, f"[{style}]{result}[/]" if style else result)
    return table


class TerminalProgress:
    """A `BridgeProgress` for the terminal: a spinner while planning, the plan table, a bar."""

    def __init__(self) -> None:
        self._status: Status | None = None
        self._bar: Progress | None = None
        self._task = None

    def planning(self) -> None:
        self._status = console.status("planning…")
        self._status.start()

    def planned(self, plans: Sequence[ProjectPlan], recipes: dict[str, Recipe]) -> None:
        if self._status:
            self._status.stop()
        console.print(plan_table(plans, recipes))

    def bridging(self, steps: int) -> None:
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self._bar.start()
        self._task = self._bar.add_task("bridging", total=steps)

    def step(self, label: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, description=label[:60])

    def close(self) -> None:
        for part in (self._status, self._bar):
            if part is not None:
                part.stop()


def run_and_render(context: CliContext, options: BridgeOptions) -> BridgeReport:
    """Run the bridge with a terminal progress display and print its results."""
    progress = TerminalProgress()
    try:
        report = run_bridge(context.home, context.channels, context.recipes, options, getpass.getuser(), progress)
    finally:
        progress.close()
    if not options.dry_run:
        console.print(outcome_table(report.outcomes))
    for recipe in report.recipes_written:
        console.print(f"recipe for {recipe.name} {recipe.version} written, pending review: `drawbridge recipe show {recipe.name}`")
    for project, why in report.recipes_failed:
        errors.print(f"[yellow]no recipe for {escape(project)}:[/] {escape(why)}")
    return report


def bridge(
    requirements: Annotated[list[str], typer.Argument(help="PEP 508 requirements, e.g. 'requests>=2'.")],
    home: HomeOption = None,
    channel: ChannelOption = None,
    platform: Annotated[Optional[list[str]], typer.Option("--platform", help="Conda subdir (repeatable).")] = None,
    python: Annotated[Optional[list[str]], typer.Option("--python", help="Python X.Y (repeatable).")] = None,
    upstream_pypi: Annotated[Optional[str], typer.Option(help="Simple index URL or drop folder.")] = None,
    upstream_conda: Annotated[Optional[list[str]], typer.Option(help="Upstream conda channel (repeatable).")] = None,
    extra: Annotated[Optional[list[str]], typer.Option(help="Extras of the requested projects to include.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
) -> None:
    """Turn PyPI projects (and their dependencies) into conda packages for every target."""
    context = open_home(home)
    options = BridgeOptions(
        requirements=tuple(requirements),
        channel=context.channel(channel),
        platforms=tuple(platform or ()),
        pythons=tuple(python or ()),
        upstream_pypi=upstream_pypi or "",
        upstream_conda=tuple(upstream_conda) if upstream_conda is not None else None,
        extras=tuple(extra or ()),
        dry_run=dry_run,
    )
    if not run_and_render(context, options).ok:
        raise typer.Exit(1)
