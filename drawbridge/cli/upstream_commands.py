"""`drawbridge upstream add|list|remove`: connect the company's conda mirrors, checked first.

The list lives in drawbridge.toml (`[bridge] upstream_conda`), edited in place with the
operator's comments kept; a running server picks the change up without a restart.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from drawbridge.bridge.upstream.mirror_check import MirrorCheck, check_mirror
from drawbridge.channel.upstream_conda import (
    UPSTREAM_PREFIX,
    UpstreamConda,
    add_upstream,
    check_mirror_name,
    check_name_free,
    normalise_location,
    remove_upstream,
    upstream_channels,
)
from drawbridge.cli.common import HomeOption, console, errors, table
from drawbridge.cli.context import forget_home, open_home

upstream_app = typer.Typer(
    help="Connect the company's conda mirrors (python and friends come from them).",
    no_args_is_help=True,
)


def contents_table(check: MirrorCheck) -> Table:
    """What `upstream add` found, subdir by subdir."""
    shown = table("subdir", "packages", "python", title=f"{check.mirror.name}: what it holds")
    for contents in check.subdirs:
        shown.add_row(contents.subdir, str(contents.packages), ", ".join(contents.pythons) or "-")
    return shown


@upstream_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The name it is served under: /upstream/NAME/.")],
    location: Annotated[
        str,
        typer.Argument(
            metavar="URL|FOLDER",
            help="The mirror's channel root: the URL or folder holding noarch/ and linux-64/.",
        ),
    ],
    home: HomeOption = None,
) -> None:
    """Check a conda mirror (reachable, repodata, which subdirs and Pythons), then connect it."""
    context = open_home(home)
    mirror = UpstreamConda(check_mirror_name(name), normalise_location(location))
    # a taken name is said before the mirror is looked at, which can take a while
    check_name_free(context.home.bridge.upstream_conda, mirror.name)
    with console.status(f"reading {mirror.location}…"):
        check = check_mirror(mirror, context.home.cache_dir / "rattler")
    console.print(contents_table(check))
    add_upstream(context.home.config_path, mirror.name, mirror.location)
    forget_home(home)
    console.print(
        f"[green]connected[/] {mirror.name} → {escape(mirror.location)}, served at "
        f"/{UPSTREAM_PREFIX}/{mirror.name}/ (written to {context.home.config_path})"
    )
    if not check.pythons:
        errors.print(
            f"[yellow]{mirror.name} has no python package:[/] the conda side needs a mirror "
            "with python (recipes build and environments install against it); connect one "
            "that has it too"
        )
    else:
        console.print(f"python {', '.join(check.pythons)} available to builds and environments")


@upstream_app.command("list")
def list_mirrors(home: HomeOption = None) -> None:
    """The connected conda mirrors, in priority order."""
    mirrors = upstream_channels(open_home(home).home.bridge.upstream_conda)
    shown = table("name", "location", "served at", title="Upstream conda mirrors")
    for mirror in mirrors.values():
        shown.add_row(mirror.name, escape(mirror.location), f"/{UPSTREAM_PREFIX}/{mirror.name}/")
    console.print(shown)
    if not mirrors:
        errors.print(
            "no conda mirror is connected: python and the other conda packages Drawbridge does "
            "not bridge come from one; `drawbridge upstream add NAME URL|FOLDER`"
        )


@upstream_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The mirror's name, as `upstream list` shows it.")],
    home: HomeOption = None,
) -> None:
    """Disconnect a conda mirror (its cached files stay until the cache is cleared)."""
    context = open_home(home)
    mirror = remove_upstream(context.home.config_path, name)
    forget_home(home)
    console.print(f"removed {mirror.name} ({escape(mirror.location)})")
