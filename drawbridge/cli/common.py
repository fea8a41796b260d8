"""What every `drawbridge` command shares: the consoles, tables and the common options.

Light on purpose: the client commands (`lock`, `env`, `image`) import this and must not
pull in the server's database or web stack; rich's tables and syntax highlighting (which
loads pygments) are imported by the commands that print them. Rich itself is imported when
`console` or `errors` is first asked for (they are made then), and `say` writes a line rich
would print unchanged (output that is not a terminal) without them: a successful
`drawbridge lock` in a pipe never loads rich.

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
from typer.core import TyperOption

from drawbridge.channel.locations import DEFAULT_HOME, HOME_VARIABLE
from drawbridge.environments.defaults import TOKEN_VARIABLE

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    # the click TyperOption is given: typer's own copy of it (typer._click), not `click`
    from typer._click import Context as ClickContext

#: the width of a console that is not a terminal and has no $COLUMNS: no line is cut
UNBOUNDED_WIDTH = 100_000


#: what makes rich style or cut a console's output that is not a terminal
STYLING_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")


def _console(stream: TextIO, stderr: bool = False) -> Console:
    """A console on `stream`: the terminal's width, else $COLUMNS, else unbounded."""
    from rich.console import Console

    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=UNBOUNDED_WIDTH if piped else None)


if TYPE_CHECKING:
    #: stdout's and stderr's consoles, made on first use (module __getattr__ below)
    console: Console
    errors: Console


def __getattr__(name: str) -> Console:
    """`console` and `errors`, made when first asked for: importing rich took ~20 ms of a
    lock, which reads them through the module (`common.console`) only when it prints."""
    if name not in ("console", "errors"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _shared(name)


def _shared(name: str) -> Console:
    """The console called `name`, made now if it was not yet (and kept as the module's)."""
    made: Console | None = globals().get(name)
    if made is None:
        made = _console(sys.stderr, stderr=True) if name == "errors" else _console(sys.stdout)
        globals()[name] = made
    return made


def plain_output(stream: TextIO) -> bool:
    """Whether rich would print text to `stream` as it is: not a terminal (no styles) and
    no $COLUMNS (no line cut), nor a variable that makes rich style it anyway."""
    if any(name in os.environ for name in STYLING_VARIABLES):
        return False
    try:
        return not stream.isatty()
    except ValueError:  # a closed stream: rich treats it as no terminal too
        return True


def say(text: str) -> None:
    """`text` and a newline on stdout, never read as markup or emoji codes: written as it
    is when the output is plain (rich not loaded), else printed by the console."""
    if plain_output(sys.stdout):
        sys.stdout.write(text + "\n")
    else:
        _shared("console").print(text, markup=False, emoji=False)


def table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells fold long words onto more lines instead of cutting them."""
    from rich.table import Column, Table

    return Table(*(Column(header, overflow="fold") for header in headers), title=title)


def print_code(text: str, lexer: str) -> None:
    """Source text highlighted on a terminal, as it is (no padding) anywhere else."""
    console = _shared("console")
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
