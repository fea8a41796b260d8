"""The `drawbridge` CLI in-process, through typer's CliRunner: for what a command says and
does that needs no process of its own (help, refusals, a command on a home), in
milliseconds instead of the second a process takes to import the application.

A command that must run as its own process (a crash, `serve`, the light client path,
output piped to a file at the terminal's width) uses `clients.run_drawbridge` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from drawbridge.cli.entry import expected_errors


@dataclass(frozen=True)
class Said:
    """What a command in-process ended with, as a process would report it."""

    returncode: int
    stdout: str
    stderr: str


def invoke_drawbridge(
    *args: str, home: Path | None = None, env: Mapping[str, str] | None = None
) -> Said:
    """`drawbridge ARGS [--home HOME]` in-process with `env` set, its errors reported as
    the console script reports them (an expected error is one `error:` line, status 1)."""
    from drawbridge.cli.app import app

    argv = [*args, *(["--home", str(home)] if home else [])]
    result = CliRunner().invoke(app, argv, env=dict(env or {}), prog_name="drawbridge")
    stderr = result.stderr
    if isinstance(result.exception, expected_errors()):
        stderr += f"error: {result.exception}\n"
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Said(result.exit_code, result.stdout, stderr)
