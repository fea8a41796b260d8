"""`drawbridge held list|accept|reject` and `drawbridge osv import`: what policy held, and
the vulnerability snapshot it reads (the library is `drawbridge.bridge.policy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from drawbridge.bridge.policy import holding, osv
from drawbridge.cli.common import HomeOption, TokenOption, console, table
from drawbridge.cli.context import open_home

held_app = typer.Typer(
    help="Files policy held back, waiting for a maintainer.", no_args_is_help=True
)
osv_app = typer.Typer(help="The OSV vulnerability snapshot policy checks.", no_args_is_help=True)
CommentOption = Annotated[str, typer.Option("--comment", help="Why; kept in the audit log.")]


@held_app.command("list")
def held_list(
    channel: Annotated[Optional[str], typer.Option("--channel", help="Only this channel.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
    home: HomeOption = None,
) -> None:
    """The held files, oldest first, with why they were held."""
    context = open_home(home)
    rows = context.held.all() if every else context.held.waiting(channel)
    shown = table("#", "channel", "file", "release", "why", "from", "state", title="Held files")
    for row in rows:
        if channel and row.channel != channel:
            continue
        state = row.state + (f" by {row.decided_by}: {row.comment}" if row.decided_by else "")
        shown.add_row(
            str(row.id),
            row.channel,
            row.filename,
            f"{row.project} {row.version}",
            escape("; ".join(row.reasons)),
            escape(row.source),
            escape(state),
        )
    console.print(shown)


@held_app.command("accept")
def held_accept(
    held_id: Annotated[int, typer.Argument(help="The number `held list` shows.")],
    comment: CommentOption = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Publish a held file after all (the normal checks apply); audited. Needs a
    maintainer's token."""
    context = open_home(home)
    user = context.decider(token, "held files")
    published = holding.accept(context.channels, context.held, held_id, user, comment)
    console.print(f"[green]published[/] {published.filename} → {published.channel}")


@held_app.command("reject")
def held_reject(
    held_id: Annotated[int, typer.Argument(help="The number `held list` shows.")],
    comment: CommentOption = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Refuse a held file for good (its bytes are removed); audited."""
    context = open_home(home)
    user = context.decider(token, "held files")
    row = holding.reject(context.held, held_id, user, comment)
    console.print(f"[yellow]rejected[/] {row.filename}")


@osv_app.command("import")
def osv_import(
    snapshot: Annotated[Path, typer.Argument(help="OSV's PyPI all.zip.")],
    home: HomeOption = None,
) -> None:
    """Replace the home's OSV snapshot (PyPI advisories) by SNAPSHOT."""
    context = open_home(home)
    count = osv.import_snapshot(context.home.root, snapshot)
    console.print(f"{count} PyPI advisories kept from {snapshot.name}")
    affected = holding.published_advisories(context.channels, osv.Snapshot.load(context.home.root))
    if affected:
        console.print(
            f"[yellow]{len(affected)} advisory match(es) on published releases[/]: "
            "`drawbridge audit` lists them"
        )


def advisories_table(home: Path | None) -> object | None:
    """The advisories that apply to published releases, as a table; None if none do."""
    context = open_home(home)
    affected = holding.published_advisories(context.channels, osv.Snapshot.load(context.home.root))
    if not affected:
        return None
    shown = table(
        "channel",
        "release",
        "advisory",
        "severity",
        "summary",
        title="Advisories on published releases",
    )
    for item in affected:
        shown.add_row(
            item.channel,
            f"{item.project} {item.version}",
            item.advisory,
            item.severity or "not given",
            escape(item.summary),
        )
    return shown
