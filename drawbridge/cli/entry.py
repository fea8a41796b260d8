"""The `drawbridge` console script: one error boundary, and a light path for client commands.

`lock`, `env` and `image` run on developer machines and build hosts, often in loops, and
`agent` on builder machines that have no home; they need neither FastAPI nor SQLAlchemy,
which take most of a second to import. Everything else, `--help` included, goes to the
full application.

An error a layer raises on purpose (`ChannelError`, `BridgeError`, `EnvironmentFailure`)
is printed as its message, without a traceback, and the status is 1; that is the only
place that catches them.

`drawbridge lock` first asks the server to lock (cli/lock_on_server.py, standard library
only): when it does, the file is written and nothing else is loaded. Otherwise it starts
the uv runs the last lock of the same command line made
(environments/uv_run.py, `early_runs`), so uv resolves while typer, rattler and httpx load;
the command takes a run only if the solve asks for exactly what it was started with. It
also pauses the cyclic garbage collector while the lock's modules load (cli/startup.py).

httpx's `__init__` imports its own command-line client when click and rich are installed
(they are): click, rich's progress bars and syntax highlighting, pygments; none of our
commands uses it, and it was a tenth of `drawbridge lock`'s imports. Its module is marked
missing, which httpx takes as "not installed" (it then defines a stub `httpx.main`).

Every command ends with `os._exit` once its output is flushed, skipping the interpreter's
finalization: py-rattler's tokio worker threads can still be winding down then, and one
releasing the GIL while Python tears itself down aborts the process (a lock that failed
cleanly would exit with SIGSEGV/SIGABRT instead of 1; seen in CI, reproduced with gdb).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drawbridge.environments.uv_run import GuessedRuns

#: the commands served by the light application
CLIENT_COMMANDS = frozenset({"lock", "env", "image"})
#: the build agent's command, served by its own light application
AGENT_COMMAND = "agent"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "lock":
        # the server locks, if it can, before anything else is loaded (cli/lock_on_server.py)
        from drawbridge.cli.lock_on_server import lock_on_server

        try:
            locked = lock_on_server(sys.argv[2:], os.environ) == 0
        except KeyboardInterrupt:  # as click says it for the commands it runs
            print("Aborted!", file=sys.stderr, flush=True)
            os._exit(1)
        if locked:
            sys.stdout.flush()
            os._exit(0)
    _run_command()


def expected_errors() -> tuple[type[Exception], ...]:
    """The errors users see as a message, not a traceback (loaded once a command runs)."""
    from drawbridge.agent.errors import AgentError
    from drawbridge.bridge.errors import BridgeError
    from drawbridge.channel.errors import ChannelError
    from drawbridge.environments.errors import EnvironmentFailure

    return (ChannelError, BridgeError, EnvironmentFailure, AgentError)


def _run_command() -> None:
    from drawbridge.cli.startup import pause_collection

    expected = expected_errors()
    # None in sys.modules makes `import httpx._main` raise ImportError, which httpx catches
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # the documented marker
    guessed: GuessedRuns | None = None
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "lock":
            pause_collection()  # until the lock's modules are loaded (cli/startup.py)
            # uv resolves the last lock's pip part while typer, rattler and httpx load
            from drawbridge.environments.uv_run import early_runs

            guessed = early_runs(sys.argv[1:], os.environ)
        if len(sys.argv) > 1 and sys.argv[1] in CLIENT_COMMANDS:
            from drawbridge.cli.env_commands import client_app as app
        elif len(sys.argv) > 1 and sys.argv[1] == AGENT_COMMAND:
            from drawbridge.cli.agent_command import agent_app as app
        else:
            from drawbridge.cli.app import app
        app(prog_name="drawbridge", standalone_mode=True, obj=guessed)
        code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except expected as error:
        _print_error(error)
        code = 1
    finally:
        if guessed is not None:  # a run the command did not take (usage error, --help) ends
            guessed.stop()
    logging = sys.modules.get("logging")  # imported after lock's early uv start, if at all
    if logging is not None:  # a command that logged: its handlers flush and close
        logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_error(error: Exception) -> None:
    from rich.markup import escape

    from drawbridge.cli.common import errors

    errors.print(f"[bold red]error:[/] {escape(str(error))}")


def _exit_code(code: object) -> int:
    """What `sys.exit(code)` would have made the status, printing a message code as it would."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1
