"""`drawbridge recipe …`, `drawbridge build` and `drawbridge audit`: the review workflow."""

from __future__ import annotations

import getpass
import os
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from sqlalchemy import select

from drawbridge.channel import repodata_files
from drawbridge.bridge.farm.schedule import Outcome, check_approved, outcome, queue_recipe
from drawbridge.bridge.recipes.target_build import HOST_SUBDIR, cross_targets
from drawbridge.bridge.records import BuildRecordRow
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.missing.provide import how_to_provide, missing_from, recipe_requirements
from drawbridge.bridge.recipes.compose import review_notes
from drawbridge.bridge.recipes.book import Recipe
from drawbridge.bridge.run import open_upstream
from drawbridge.channel.upstream_conda import upstream_channels, upstream_locations
from drawbridge.cli.common import (
    ChannelOption,
    HomeOption,
    TokenOption,
    console,
    print_code,
    table,
)
from drawbridge.cli import policy_commands
from drawbridge.cli.context import CliContext, open_home

recipe_app = typer.Typer(
    help="Generate and review recipes for sdist-only projects.", no_args_is_help=True
)


@recipe_app.command("generate")
def generate(
    requirement: Annotated[str, typer.Argument(help="PROJECT or PROJECT==VERSION")],
    home: HomeOption = None,
    upstream_pypi: Annotated[
        Optional[str], typer.Option(help="Simple index URL or drop folder.")
    ] = None,
) -> None:
    """Write a recipe for a project's sdist (a curated one wins); it waits for review."""
    project, _, version = requirement.partition("==")
    context = open_home(home)
    settings = context.home.bridge
    upstream = open_upstream(upstream_pypi or settings.upstream_pypi, context.home.cache_dir)
    with closing(upstream), console.status(f"generating a recipe for {requirement}…"):
        recipe = context.recipes.generate(
            project,
            version or None,
            upstream,
            default_table(),
            getpass.getuser(),
            settings.oldest_python3,
        )
    origin = "curated" if recipe.curated else "generated"
    console.print(
        f"[green]{origin}[/] {recipe.name} {recipe.version} → {recipe.path} (pending review)"
    )


@recipe_app.command("list")
def list_recipes(home: HomeOption = None) -> None:
    """Every recipe with its review state."""
    shown = table("recipe", "project", "version", "state", "decided by", "needs a builder for")
    for recipe in open_home(home).recipes.all():
        shown.add_row(
            recipe.name,
            recipe.project,
            recipe.version,
            recipe.state,
            recipe.decided_by,
            recipe.needs_builder,
        )
    console.print(shown)


@recipe_app.command("show")
def show(name: str, home: HomeOption = None) -> None:
    """The recipe and its review record."""
    book = open_home(home).recipes
    recipe = book.get(name)
    console.print(f"{recipe.name} {recipe.version}: [bold]{recipe.state}[/] sha256={recipe.sha256}")
    if recipe.decided_by:
        console.print(f"decided by {recipe.decided_by}: {recipe.comment}")
    last = book.last_build(name) if recipe.state == "failed" else None
    if last is not None:
        console.print(f"[red]last build failed[/]: {escape(last.detail)}")
    text = book.text(name)
    notes = review_notes(text)
    if notes:
        console.print("[bold]notes for the reviewer[/]")
        for note in notes:
            console.print(f"[yellow]-[/] {escape(note)}")
    print_code(text, "yaml")


@recipe_app.command("diff")
def diff(name: str, home: HomeOption = None) -> None:
    """The recipe against the version last approved (or the one before it)."""
    print_code(open_home(home).recipes.diff(name) or "(no difference)\n", "diff")


def _decide(name: str, approve: bool, comment: str, home: Path | None, token: str | None) -> None:
    context = open_home(home)
    recipe = context.recipes.decide(name, approve, context.decider(token, "a recipe"), comment)
    if approve:  # approving queues its build jobs, for the default channel
        settings = context.home.bridge
        queued = queue_recipe(
            context.jobs, recipe, context.channel(None), settings.platforms, settings.python3s
        )
        console.print(f"{recipe.name}: {len(queued)} build job(s) queued")
    console.print(
        f"{recipe.name}: [bold]{recipe.state}[/] by {recipe.decided_by} (sha256 "
        f"{recipe.sha256[:12]})"
    )


@recipe_app.command("approve")
def approve(
    name: str,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Approve the recipe's current bytes (maintainers and admins)."""
    _decide(name, True, comment, home, token)


@recipe_app.command("reject")
def reject(
    name: str,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Reject the recipe (maintainers and admins)."""
    _decide(name, False, comment, home, token)


@recipe_app.command("edit")
def edit(name: str, home: HomeOption = None) -> None:
    """Open the recipe in $EDITOR; a changed recipe is pending review again."""
    book = open_home(home).recipes
    subprocess.run([os.environ.get("EDITOR", "vi"), str(book.get(name).path)], check=False)
    console.print(f"{name}: {book.get(name).state}")


@recipe_app.command("log")
def log(name: str, home: HomeOption = None) -> None:
    """The log of the recipe's last build."""
    context = open_home(home)
    context.recipes.get(name)
    logs = sorted(
        (context.home.root / "recipes" / name / "logs").glob("*.log"),
        key=lambda p: p.stat().st_mtime,
    )
    if not logs:
        raise BridgeError(f"{name} has not been built yet")
    console.print(logs[-1].read_text(errors="replace"), markup=False, highlight=False)


def build(
    names: Annotated[
        Optional[list[str]], typer.Argument(help="Recipes to build (default: every approved one).")
    ] = None,
    home: HomeOption = None,
    channel: ChannelOption = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Then show the other platforms' jobs until agents have built them."
        ),
    ] = False,
) -> None:
    """Queue the approved recipes' build jobs and build those of this machine (linux-64,
    noarch) with a local agent, against the upstream conda channels and the channel itself;
    the other platforms' jobs wait for their agents (`drawbridge agent`)."""
    context = open_home(home)
    book, channels, settings = context.recipes, context.channels, context.home.bridge
    jobs = context.jobs
    target = context.channel(channel)
    # approved and not built yet, or failed with bytes still the approved ones: retried
    wanted = names or [
        r.name
        for r in book.all()
        if r.state in ("approved", "failed") and r.approved_sha256 == r.sha256
    ]
    repodata_files.ensure_channel(channels.layout(target).conda_dir)
    build_channels = [
        *upstream_locations(settings.upstream_conda),
        channels.layout(target).conda_dir.resolve().as_uri(),
    ]
    mirrors = upstream_channels(settings.upstream_conda)
    lacking: dict[str, BuildResult] = {}
    queued = []
    for name in wanted:
        recipe = book.get(name)
        check_approved(recipe)
        result = _lacking_requirements(recipe, build_channels, list(mirrors), target)
        if result is not None:
            book.record_build(name, False, result.log, "", result.message)
            lacking[name] = result
            continue
        queued += queue_recipe(
            jobs, recipe, target, settings.platforms, settings.python3s, retry_failed=True
        )
    if queued:
        console.print(
            f"queued {len(queued)} job(s): "
            + ", ".join(f"{j.recipe} {j.target} [{j.state}]" for j in queued),
            soft_wrap=True,
        )
    work = context.home.cache_dir / "builds"
    building = [n for n in wanted if n not in lacking]
    if building:
        # linux-aarch64 is cross-built here when the channels carry the cross compiler for it
        cross = cross_targets(settings.platforms, build_channels)
        # imported here: it loads the web app, which the other commands never need
        from drawbridge.cli.local_agent import build_locally

        with console.status("building with the local agent…") as status:
            build_locally(
                context.home,
                context.database,
                build_channels,
                building,
                settings.python3s,
                work,
                on_done=lambda done: status.update(
                    f"built job {done.job.id} ({done.job.recipe} {done.job.target}): {done.outcome}"
                ),
                cross=cross,
            )
    if wait and building:
        _wait_for_agents(context, building)
    shown = table("recipe", "result", "packages", "needs a builder for", "log")
    failed = False
    for name in wanted:
        if name in lacking:
            result = lacking[name]
            shown.add_row(name, "[red]failed[/]", "", "", str(result.log))
            failed = True
            continue
        recipe = book.get(name)
        now = outcome(jobs, recipe)
        failed = failed or not now.ok
        colour = {"built": "green", "failed": "red"}.get(now.result, "yellow")
        shown.add_row(
            name,
            f"[{colour}]{now.result}[/]",
            ", ".join(_published(context, now)),
            ", ".join(now.needs_builder),
            recipe.folder.joinpath("logs", f"{name}-{recipe.approved_sha256[:12]}.log").as_posix(),
        )
    console.print(shown)
    # why, and what the reviewer should know, in whole lines below the table: a compiler's
    # line in a table cell would be folded past reading
    for name in wanted:
        message = (
            lacking[name].message if name in lacking else outcome(jobs, book.get(name)).message
        )
        if message:
            console.print(f"[red]{name} failed[/]: {escape(message)}", soft_wrap=True)
        notes = [] if name in lacking else outcome(jobs, book.get(name)).notes
        for note in notes:
            console.print(f"[yellow]{name} note[/]: {escape(note)}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _published(context: CliContext, now: Outcome) -> list[str]:
    """The files the succeeded jobs' build records name."""
    ids = [j.id for j in now.jobs if j.state == "succeeded"]
    with context.database.session() as session:
        records = session.scalars(
            select(BuildRecordRow).where(BuildRecordRow.job.in_(ids), BuildRecordRow.accepted)
        )
        return [name for record in records for name in (record.record.get("outputs") or {})]


def _wait_for_agents(context: CliContext, names: list[str]) -> None:
    """A progress bar of the recipes' jobs until every one has ended, or only jobs no agent
    builds for are left (said, with their platforms)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    jobs, book = context.jobs, context.recipes
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("build jobs", total=None)
        while True:
            mine = [j for n in names for j in outcome(jobs, book.get(n)).live]
            present = jobs.platforms_with_builders()
            ended = sum(1 for j in mine if j.ended)
            progress.update(task, total=len(mine), completed=ended)
            waiting = sorted(
                {j.subdir for j in mine if j.state == "queued" and j.subdir not in present}
            )
            open_ = [j for j in mine if not j.ended and j.subdir not in waiting]
            if not open_:
                break
            time.sleep(2)
    if waiting:
        console.print(
            f"waiting for a builder of {', '.join(waiting)}: start `drawbridge agent` there"
        )


@dataclass(frozen=True)
class BuildResult:
    """A recipe not built: what it lacks, and its log."""

    name: str
    ok: bool
    log: Path
    message: str = ""


def _lacking_requirements(
    recipe: Recipe, channels: list[str], mirrors: list[str], channel: str
) -> BuildResult | None:
    """A failed result naming what the recipe needs that no channel has, and how to provide
    it, before rattler-build would fail with "Failed to resolve dependencies"; else None."""
    try:
        needed = recipe_requirements(recipe.path.read_text("utf-8"), HOST_SUBDIR)
    except Exception:  # an unreadable recipe: its build says why
        return None
    lacking = missing_from(channels, needed, [HOST_SUBDIR])
    if not lacking:
        return None
    where = (
        f"the conda mirrors ({', '.join(mirrors)}) and channel {channel}"
        if mirrors
        else f"channel {channel}, and no conda mirror is connected"
    )
    message = f"needs {', '.join(lacking)}, which no channel has ({where}); " + "; ".join(
        how_to_provide(lacking, python_missing="python" in lacking)
    )
    log = recipe.folder / "logs" / f"{recipe.name}-{recipe.sha256[:12]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"# not built: {message}\n", "utf-8")
    return BuildResult(recipe.name, False, log, message=message)


def audit(home: HomeOption = None) -> None:
    """Every recorded decision and build, oldest first."""
    shown = table("time", "user", "action", "subject", "detail")
    for row in open_home(home).recipes.audit():
        shown.add_row(
            row.time.strftime("%Y-%m-%d %H:%M:%S"), row.user, row.action, row.subject, row.detail
        )
    console.print(shown)
    advisories = policy_commands.advisories_table(home)
    if advisories is not None:
        console.print(advisories)
