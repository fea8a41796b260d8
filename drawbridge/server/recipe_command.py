"""`drawbridge recipe …`, `drawbridge build` and `drawbridge audit`: the review workflow."""

from __future__ import annotations

import getpass
from dataclasses import replace
import os
import subprocess
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.syntax import Syntax
from rich.table import Table

from drawbridge.bridge.build import build_recipe
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.names import default_table
from drawbridge.bridge.recipes import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels
from drawbridge.server.auth import Role, identify_token
from drawbridge.server.bridge_command import open_upstream
from drawbridge.server.cli_common import ChannelOption, HomeOption, TokenOption, console, fail

recipe_app = typer.Typer(help="Generate and review recipes for sdist-only projects.", no_args_is_help=True)


def _book(home: Path | None) -> tuple[Home, RecipeBook]:
    loaded = load_home(home)
    return loaded, RecipeBook(loaded, Database(loaded.database_url))


def decider(loaded: Home, token: str | None, what: str = "a recipe") -> str:
    """The user a token names, if it may approve (maintainer or admin); else exit."""
    if not token:
        fail(ChannelError(f"deciding on {what} needs a maintainer's token: --token or $DRAWBRIDGE_TOKEN"))
    identity = identify_token(Database(loaded.database_url), token or "")
    if identity is None:
        fail(ChannelError("the token is unknown or revoked"))
    assert identity is not None and identity.role is not None
    if identity.role < Role.maintainer:
        fail(ChannelError(f"only maintainers and admins may approve or reject; {identity.user} is a {identity.role.name}"))
    return identity.user


@recipe_app.command("generate")
def generate(
    requirement: Annotated[str, typer.Argument(help="PROJECT or PROJECT==VERSION")],
    home: HomeOption = None,
    upstream_pypi: Annotated[Optional[str], typer.Option(help="Simple index URL or drop folder.")] = None,
) -> None:
    """Write a recipe for a project's sdist (a curated one from recipes/ wins); it waits for review."""
    project, _, version = requirement.partition("==")
    try:
        loaded, book = _book(home)
        upstream = open_upstream(upstream_pypi or loaded.bridge.upstream_pypi, loaded.cache_dir)
        with console.status(f"generating a recipe for {requirement}…"):
            recipe = book.generate(project, version or None, upstream, default_table(), getpass.getuser(), loaded.bridge.oldest_python3)
    except (ChannelError, BridgeError) as error:
        fail(error)
    origin = "curated" if recipe.curated else "generated"
    console.print(f"[green]{origin}[/] {recipe.name} {recipe.version} → {recipe.path} (pending review)")


@recipe_app.command("list")
def list_recipes(home: HomeOption = None) -> None:
    """Every recipe with its review state."""
    try:
        _loaded, book = _book(home)
        table = Table("recipe", "project", "version", "state", "decided by", "needs a builder for")
        for recipe in book.all():
            table.add_row(recipe.name, recipe.project, recipe.version, recipe.state, recipe.decided_by, recipe.needs_builder)
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(table)


@recipe_app.command("show")
def show(name: str, home: HomeOption = None) -> None:
    """The recipe and its review record."""
    try:
        _loaded, book = _book(home)
        recipe = book.get(name)
        console.print(f"{recipe.name} {recipe.version}: [bold]{recipe.state}[/] sha256={recipe.sha256}")
        if recipe.decided_by:
            console.print(f"decided by {recipe.decided_by}: {recipe.comment}")
        console.print(Syntax(book.text(name), "yaml"))
    except (ChannelError, BridgeError) as error:
        fail(error)


@recipe_app.command("diff")
def diff(name: str, home: HomeOption = None) -> None:
    """The recipe against the version last approved (or the one before it)."""
    try:
        _loaded, book = _book(home)
        console.print(Syntax(book.diff(name) or "(no difference)\n", "diff"))
    except (ChannelError, BridgeError) as error:
        fail(error)


def _decide(name: str, approve: bool, comment: str, home: Path | None, token: str | None) -> None:
    try:
        loaded, book = _book(home)
        recipe = book.decide(name, approve, decider(loaded, token), comment)
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(f"{recipe.name}: [bold]{recipe.state}[/] by {recipe.decided_by} (sha256 {recipe.sha256[:12]})")


@recipe_app.command("approve")
def approve(name: str, comment: Annotated[str, typer.Option(help="Why.")] = "", home: HomeOption = None, token: TokenOption = None) -> None:
    """Approve the recipe's current bytes (maintainers and admins)."""
    _decide(name, True, comment, home, token)


@recipe_app.command("reject")
def reject(name: str, comment: Annotated[str, typer.Option(help="Why.")] = "", home: HomeOption = None, token: TokenOption = None) -> None:
    """Reject the recipe (maintainers and admins)."""
    _decide(name, False, comment, home, token)


@recipe_app.command("edit")
def edit(name: str, home: HomeOption = None) -> None:
    """Open the recipe in $EDITOR; a changed recipe is pending review again."""
    try:
        _loaded, book = _book(home)
        recipe = book.get(name)
        subprocess.run([os.environ.get("EDITOR", "vi"), str(recipe.path)], check=False)
        recipe = book.get(name)
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(f"{recipe.name}: {recipe.state}")


@recipe_app.command("log")
def log(name: str, home: HomeOption = None) -> None:
    """The log of the recipe's last build."""
    try:
        loaded, book = _book(home)
        book.get(name)
        logs = sorted((loaded.root / "recipes" / name / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime)
        if not logs:
            raise BridgeError(f"{name} has not been built yet")
        console.print(logs[-1].read_text(errors="replace"), markup=False, highlight=False)
    except (ChannelError, BridgeError) as error:
        fail(error)


def build(
    names: Annotated[Optional[list[str]], typer.Argument(help="Recipes to build (default: every approved one).")] = None,
    home: HomeOption = None,
    channel: ChannelOption = None,
) -> None:
    """Build approved recipes with rattler-build against the upstream conda channels and the channel itself."""
    try:
        loaded, book = _book(home)
        channels = Channels(loaded, Database(loaded.database_url))
        target = channel or loaded.server.default_channel
        channel_dir = channels.require(target)
        # approved and not built yet, or failed with bytes still the approved ones: retried
        wanted = names or [
            r.name for r in book.all() if r.state in ("approved", "failed") and r.approved_sha256 == r.sha256
        ]
        build_channels = [*loaded.bridge.upstream_conda, (channel_dir / "conda").resolve().as_uri()]
        outputs = loaded.cache_dir / "builds"
        outputs.mkdir(parents=True, exist_ok=True)
        results = []
        for name in wanted:
            recipe = book.get(name)
            with console.status(f"building {name}…"):
                result = build_recipe(recipe, build_channels, outputs, recipe.folder / "logs", loaded.bridge.platforms)
            if result.ok:
                # the wheel may already be there from an earlier build of the same version
                fresh = [*result.packages, *(w for w in result.wheels if not channels.has_file(target, w.name))]
                _published, refused = channels.publish_many(target, fresh, uploaded_by="build")
                if refused:
                    result = replace(result, ok=False, message=f"refused by the channel: {refused[0][1]}")
            book.record_build(name, result.ok, result.log, ", ".join(result.needs_builder))
            results.append(result)
    except (ChannelError, BridgeError) as error:
        fail(error)
    table = Table("recipe", "result", "packages", "needs a builder for", "log")
    for result in results:
        made = [p.name for p in (*result.packages, *result.wheels)]
        table.add_row(result.name, "[green]built[/]" if result.ok else f"[red]failed[/] {result.message}",
                      ", ".join(made), ", ".join(result.needs_builder), str(result.log))  # fmt: skip
    console.print(table)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def audit(home: HomeOption = None) -> None:
    """Every recorded decision and build, oldest first."""
    try:
        _loaded, book = _book(home)
        table = Table("time", "user", "action", "subject", "detail")
        for row in book.audit():
            table.add_row(row.time.strftime("%Y-%m-%d %H:%M:%S"), row.user, row.action, row.subject, row.detail)
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(table)
