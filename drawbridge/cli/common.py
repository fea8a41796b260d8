"""What every `drawbridge` command shares: the consoles, tables and the common options.

Light on purpose: the client commands (`lock`, `env`, `image`) import this and must not
pull in the server's database or web stack; rich's tables and syntax highlighting (which
loads pygments) are imported by the commands that print them.

Output piped to a file or another program is never cut: a console that is not a terminal
is as wide as its longest line (unless $COLUMNS says otherwise), and table cells fold
rather than end in "…", so build errors and version strings arrive whole.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, TextIO

import typer
from rich.console import Console
from typer.core import TyperOption

from drawbridge.channel.home import DEFAULT_HOME, HOME_VARIABLE
from drawbridge.environments.defaults import TOKEN_VARIABLE

if TYPE_CHECKING:
    from rich.table import Table

    # the click TyperOption is given: typer's own copy of it (typer._click), not `click`
    from typer._click import Context as ClickContext

#: the width of a console that is not a terminal and has no $COLUMNS: no line is cut
UNBOUNDED_WIDTH = 100_000


def _console(stream: TextIO, stderr: bool = False) -> Console:
    """A console on `stream`: the terminal's width, else $COLUMNS, else unbounded."""
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=UNBOUNDED_WIDTH if piped else None)


console = _console(sys.stdout)
errors = _console(sys.stderr, stderr=True)


def table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells fold long words onto more lines instead of cutting them."""
    from rich.table import Column, Table

    return Table(*(Column(header, overflow="fold") for header in headers), title=title)


def print_code(text: str, lexer: str) -> None:
    """Source text highlighted on a terminal, as it is (no padding) anywhere else."""
    if console.is_terminal:
        from rich.syntax import Syntax

        console.print(Syntax(text, lexer))
    else:
        console.print(text, markup=False, highlight=False, end="")


TypeColumn = Callable[[TyperOption, "ClickContext"], Optional[str]]


def _flags_take_no_value(display_type_rich: TypeColumn) -> TypeColumn:
    """Typer prints a `<type>` placeholder beside every option; a flag takes none."""

    def display(self: TyperOption, ctx: ClickContext) -> str | None:
        return None if self.is_flag else display_type_rich(self, ctx)

    return display


# a patch of typer's class: mypy refuses any assignment to a method
TyperOption.display_type_rich = _flags_take_no_value(  # type: ignore[method-assign,assignment]
    TyperOption.display_type_rich
)

# typer's coercion through pydantic only for the values that need it (cli/coercion.py)
try:
    from drawbridge.cli import coercion
except ImportError:  # a typer whose private coercion module is gone or differs: typer's own
    pass
else:
    coercion.install()

HomeOption = Annotated[
    Optional[Path],
    typer.Option(
        "--home",
        envvar=HOME_VARIABLE,
        help=f"The Drawbridge home folder (default: ./{DEFAULT_HOME} in the current folder).",
        show_default=False,
    ),
]
TokenOption = Annotated[
    Optional[str], typer.Option("--token", envvar=TOKEN_VARIABLE, help="Your API token.")
]
ChannelOption = Annotated[
    Optional[str], typer.Option("--channel", "-c", help="Channel (default: the configured one).")
]
