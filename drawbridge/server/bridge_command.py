"""`drawbridge bridge`: plan, fetch, repack and publish PyPI projects into a channel."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.execute import Outcome, execute
from drawbridge.bridge.names import default_table
from drawbridge.bridge.plan import CondaUpstream, ProjectPlan, make_plan
from drawbridge.bridge.pypi import DownloadCache, FolderUpstream, SimpleIndexUpstream, Upstream
from drawbridge.bridge.recipes import Recipe, RecipeBook
from drawbridge.bridge.targets import targets as all_targets
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import load_home
from drawbridge.channel.service import Channels
from drawbridge.server.cli_common import ChannelOption, HomeOption, console, errors, fail



def open_upstream(location: str, cache_dir: Path) -> Upstream:
    """A drop folder when `location` is a folder, else a simple index URL."""
    folder = Path(location.removeprefix("file://"))
    if location.startswith(("/", ".", "file://")) or folder.is_dir():
        return FolderUpstream(folder)
    return SimpleIndexUpstream(location, DownloadCache(cache_dir))


def plan_table(plans: list[ProjectPlan], recipes: dict[str, Recipe] | None = None) -> Table:
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


def outcome_table(outcomes: list[Outcome]) -> Table:
    table = Table("project", "version", "route", "result", title="Bridge result")
    for outcome in outcomes:
        style = "green" if outcome.ok and outcome.route == "wheel" else ("red" if not outcome.ok else "")
        result = escape(outcome.result)
        table.add_row(outcome.project, outcome.version or "", outcome.route, f"[{style}]{result}[/]" if style else result)
    return table


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
    try:
        loaded = load_home(home)
        settings = loaded.bridge
        channels = Channels(loaded, Database(loaded.database_url))
        target_channel = channel or loaded.server.default_channel
        channels.require(target_channel)
        targets = all_targets(platform or settings.platforms, python or settings.pythons)
        upstream = open_upstream(upstream_pypi or settings.upstream_pypi, loaded.cache_dir)
        conda_channels = upstream_conda if upstream_conda is not None else settings.upstream_conda
        conda_upstream = CondaUpstream(conda_channels, [t.subdir for t in targets]) if conda_channels else None
        names = default_table()
        with console.status("planning…"):
            plans = make_plan(
                requirements, upstream, conda_upstream, targets, names, extra or (),
                manylinux=(2, settings.manylinux_glibc_minor),
            )  # fmt: skip
        book = RecipeBook(loaded, Database(loaded.database_url))
        console.print(plan_table(plans, {r.name: r for r in book.all()}))
        if dry_run:
            return
        steps = sum(len(p.wheels) + len(p.builds) for p in plans if p.route == "wheel")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("bridging", total=steps)
            outcomes = execute(
                plans, upstream, channels, target_channel, names, loaded.cache_dir / "work",
                on_step=lambda label: progress.update(task, advance=1, description=label[:60]),
            )  # fmt: skip
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(outcome_table(outcomes))
    generate_pending_recipes(loaded, plans, upstream, names)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)


def generate_pending_recipes(loaded, plans: list[ProjectPlan], upstream: Upstream, names) -> None:  # type: ignore[no-untyped-def]
    """Write recipes (pending review) for recipe-route projects that have none yet."""
    book = RecipeBook(loaded, Database(loaded.database_url))
    known = set(book.names())
    python_min = loaded.bridge.oldest_python3
    for plan in plans:
        if plan.route != "recipe" or plan.conda_name in known:
            continue
        try:
            recipe = book.generate(plan.project, plan.version, upstream, names, getpass.getuser(), python_min)
        except BridgeError as error:
            errors.print(f"[yellow]no recipe for {plan.project}:[/] {error}")
            continue
        console.print(f"recipe for {recipe.name} {recipe.version} written, pending review: `drawbridge recipe show {recipe.name}`")
