"""`drawbridge promote` and `drawbridge delete`: releases between channels, and out of
volatile ones (the library calls are `drawbridge.bridge.promotion`)."""

from __future__ import annotations

from typing import Annotated

import typer

from drawbridge.bridge import promotion
from drawbridge.cli.common import HomeOption, TokenOption, console
from drawbridge.cli.context import open_home

ReleasesArgument = Annotated[
    list[str], typer.Argument(help="Releases: PROJECT (every version) or PROJECT==VERSION.")
]
CommentOption = Annotated[
    str, typer.Option("--comment", help="Why; kept in the audit log (`drawbridge audit`).")
]


def promote(
    source: Annotated[str, typer.Argument(help="The channel the releases are in.")],
    target: Annotated[str, typer.Argument(help="The channel to promote them into.")],
    releases: ReleasesArgument,
    move: Annotated[
        bool, typer.Option("--move", help="Remove them from SOURCE once they are in TARGET.")
    ] = False,
    comment: CommentOption = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Copy (or --move) releases, with the conda packages made from them, from SOURCE into
    TARGET, byte for byte; audited with who and why. Needs a maintainer's or admin's token."""
    context = open_home(home)
    identity = context.identity(token, "promotion")
    with console.status(f"promoting into {target}…"):
        outcome = promotion.promote(
            context.channels, identity, source, target, releases, move, comment
        )
    for path in outcome.copied:
        console.print(f"[green]promoted[/] {path} → {target}")
    for path in outcome.already:
        console.print(f"[green]already in {target}[/] {path}")
    for path in outcome.removed:
        console.print(f"[yellow]removed[/] {path} from {source}")


def delete(
    channel: Annotated[str, typer.Argument(help="A volatile channel.")],
    releases: ReleasesArgument,
    comment: CommentOption = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Delete releases, with the conda packages made from them, from a volatile channel.
    Needs the channel owner's (alice for alice/sandbox), a maintainer's or an admin's token."""
    context = open_home(home)
    identity = context.identity(token, "deletion")
    with console.status(f"deleting from {channel}…"):
        outcome = promotion.delete(context.channels, identity, channel, releases, comment)
    for path in outcome.removed:
        console.print(f"[yellow]deleted[/] {path} from {channel}")
