"""What every `drawbridge` command shares: the consoles and the common options.

Light on purpose: the client commands (`lock`, `env`, `image`) import this and must not
pull in the server's database or web stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

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
