"""What every `drawbridge` command shares: consoles, the --home and --channel options, failing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
errors = Console(stderr=True)

HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="DRAWBRIDGE_HOME", help="The Drawbridge home folder."),
]
TokenOption = Annotated[
    Optional[str], typer.Option("--token", envvar="DRAWBRIDGE_TOKEN", help="Your API token.")
]
ChannelOption = Annotated[
    Optional[str], typer.Option("--channel", "-c", help="Channel (default: the configured one).")
]


def fail(error: Exception) -> NoReturn:
    """Print `error` as users should see it (no traceback) and exit with status 1."""
    errors.print(f"[bold red]error:[/] {escape(str(error))}")
    raise typer.Exit(1)
