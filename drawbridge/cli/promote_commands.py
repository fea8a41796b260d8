"""`drawbridge promote`, `drawbridge delete` and `channel set`: releases between channels,
out of volatile ones, and which channels let files go (the library calls are
`drawbridge.bridge.promotion` and `Channels.set_mutability`)."""

from __future__ import annotations

from typing import Annotated

import typer

from drawbridge.bridge import promotion
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.mutability import Mutability
from drawbridge.cli.common import HomeOption, TokenOption, console
from drawbridge.cli.context import open_home

__all__ = ["ImmutableOption", "Mutability", "VolatileOption", "chosen_mutability"]

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


ImmutableOption = Annotated[
    bool,
    typer.Option(
        "--immutable", help="Nothing is ever removed or replaced, only yanked; no --move out."
    ),
]
VolatileOption = Annotated[
    bool,
    typer.Option("--volatile", help="A sandbox: its owner may delete files (`drawbridge delete`)."),
]


def chosen_mutability(immutable: bool, volatile: bool, standard: bool = False) -> Mutability | None:
    """The one mutability the flags ask for, if any; ChannelError if they disagree."""
    chosen = [
        m
        for m, wanted in (
            (Mutability.immutable, immutable),
            (Mutability.volatile, volatile),
            (Mutability.standard, standard),
        )
        if wanted
    ]
    if len(chosen) > 1:
        raise ChannelError(
            "choose one of " + ", ".join(f"--{m.value}" for m in chosen) + ", not several"
        )
    return chosen[0] if chosen else None


def channel_set(
    name: str,
    home: HomeOption = None,
    immutable: ImmutableOption = False,
    volatile: VolatileOption = False,
    standard: Annotated[
        bool, typer.Option("--standard", help="Files never deleted; promotion may move them.")
    ] = False,
) -> None:
    """Make a channel immutable, volatile or standard (an immutable channel stays so)."""
    mutability = chosen_mutability(immutable, volatile, standard)
    if mutability is None:
        raise ChannelError("say what to set: --immutable, --volatile or --standard")
    open_home(home).channels.set_mutability(name, mutability)
    console.print(f"[green]channel[/] {name} is {mutability.value}")
