"""`drawbridge recipe …`, `drawbridge build` and `drawbridge audit`: the review workflow."""

from __future__ import annotations

import getpass
from contextlib import closing
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from drawbridge.bridge.recipes.builder import (
    HOST_SUBDIR,
    BuildResult,
    build_recipe,
    cross_targets,
)
from drawbridge.bridge.recipes.wheel_repair import Baseline
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.missing.provide import how_to_provide, missing_from, recipe_requirements
from drawbridge.bridge.recipes.compose import review_notes
from drawbridge.bridge.recipes.book import Recipe
from drawbridge.bridge.run import open_upstream
from drawbridge.channel.upstream_conda import upstream_channels, upstream_locations
from drawbridge.channel.publishing import Provenance
from drawbridge.cli.common import (
    ChannelOption,
    HomeOption,
    TokenOption,
    console,
    print_code,
    table,
)
from drawbridge.cli import policy_commands
from drawbridge.cli.context import open_home

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
) -> None:
    """Build approved recipes with rattler-build against the upstream conda channels and the
    channel itself."""
    context = open_home(home)
    book, channels, settings = context.recipes, context.channels, context.home.bridge
    target = context.channel(channel)
    # approved and not built yet, or failed with bytes still the approved ones: retried
    wanted = names or [
        r.name
        for r in book.all()
        if r.state in ("approved", "failed") and r.approved_sha256 == r.sha256
    ]
    build_channels = [
        *upstream_locations(settings.upstream_conda),
        channels.layout(target).conda_dir.resolve().as_uri(),
    ]
    outputs = context.home.cache_dir / "builds"
    outputs.mkdir(parents=True, exist_ok=True)
    results = []
    mirrors = upstream_channels(settings.upstream_conda)
    # linux-aarch64 is cross-built here when the channels carry the cross compiler for it
    cross = cross_targets(settings.platforms, build_channels) if wanted else []
    for name in wanted:
        recipe = book.get(name)
        with console.status(f"building {name}…"):
            result = _lacking_requirements(recipe, build_channels, list(mirrors), target)
            result = result or build_recipe(
                recipe,
                build_channels,
                outputs,
                recipe.folder / "logs",
                settings.platforms,
                pythons=settings.python3s,
                cache_dir=context.home.cache_dir,
                baseline=Baseline(settings.manylinux_glibc_minor, settings.macos),
                cross=cross,
            )
        # published even when another Python's build failed (`build_recipe`). Left out: a
        # wheel already there (an earlier build of the version made it) and, when this run
        # retries a failed build of the same approved bytes, the packages a build of that
        # sdist published (a rebuild's bytes differ). Any other clash is refused, and said.
        made = Provenance("recipe", result.made_from)
        retry = recipe.state == "failed"
        fresh = [
            *(
                p
                for p in result.packages
                if not (retry and channels.has_file(target, p.name, made))
            ),
            *(w for w in result.wheels if not channels.has_file(target, w.name)),
        ]
        if fresh:
            made_from = dict.fromkeys(result.packages, made)
            _published, refused = channels.publish_many(
                target, fresh, uploaded_by="build", provenance=made_from
            )
            if refused:
                result = replace(
                    result, ok=False, message=f"refused by the channel: {refused[0][1]}"
                )
        book.record_build(
            name, result.ok, result.log, ", ".join(result.needs_builder), result.message
        )
        results.append(result)
    shown = table("recipe", "result", "packages", "needs a builder for", "log")
    for result in results:
        made_names = [p.name for p in (*result.packages, *result.wheels)]
        shown.add_row(
            result.name,
            "[green]built[/]" if result.ok else "[red]failed[/]",
            ", ".join(made_names),
            ", ".join(result.needs_builder),
            str(result.log),
        )
    console.print(shown)
    # why, and what the reviewer should know, in whole lines below the table: a compiler's
    # line in a table cell would be folded past reading
    for result in results:
        if not result.ok:
            console.print(f"[red]{result.name} failed[/]: {escape(result.message)}", soft_wrap=True)
        for note in result.notes:
            console.print(f"[yellow]{result.name} note[/]: {escape(note)}", soft_wrap=True)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def _lacking_requirements(
    recipe: Recipe, channels: list[str], mirrors: list[str], channel: str
) -> BuildResult | None:
    """A failed result naming what the recipe needs that no channel has, and how to provide
    it, before rattler-build would fail with "Failed to resolve dependencies"; else None."""
    try:
        needed = recipe_requirements(recipe.path.read_text("utf-8"), HOST_SUBDIR)
    except Exception:  # an unreadable recipe: build_recipe says why
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
