"""`drawbridge docs upload`: a release's built documentation, served under its channel
(the library is `channel.hosted_docs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drawbridge.cli.common import HomeOption, console
from drawbridge.cli.context import open_home

docs_app = typer.Typer(help="Hosted documentation of releases.", no_args_is_help=True)


@docs_app.command("upload")
def upload(
    channel: Annotated[str, typer.Argument(help="The channel the release is in.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    version: Annotated[str, typer.Argument(help="The release's version.")],
    archive: Annotated[
        Path, typer.Argument(help="A zip of the built HTML (Sphinx's build/html contents).")
    ],
    home: HomeOption = None,
) -> None:
    """Check a docs zip (no traversal, links or bombs) and serve it at
    /CHANNEL/docs/PROJECT/VERSION/ (and latest/), replacing an earlier upload."""
    context = open_home(home)
    context.channels.layout(channel)
    kept = context.docs.upload(channel, project, version, archive, "cli")
    console.print(
        f"[green]uploaded[/] {kept.files} file(s): /{channel}/docs/{kept.project}/{kept.version}/"
    )
