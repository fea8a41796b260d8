"""The `drawbridge` console script: the client commands start without the server's imports.

`lock`, `env` and `image` run on developer machines and build hosts, often in loops; they
need neither FastAPI nor SQLAlchemy, which take most of a second to import. Everything
else, `--help` included, goes to the full application.

Every command ends with `os._exit` once its output is flushed, skipping the interpreter's
finalization: py-rattler's tokio worker threads can still be winding down then, and one
releasing the GIL while Python tears itself down aborts the process (a lock that failed
cleanly would exit with SIGSEGV/SIGABRT instead of 1; seen in CI, reproduced with gdb).
"""

from __future__ import annotations

import logging
import os
import sys

#: the commands served by the light application
CLIENT_COMMANDS = frozenset({"lock", "env", "image"})


def main() -> None:
    try:
        if len(sys.argv) > 1 and sys.argv[1] in CLIENT_COMMANDS:
            from drawbridge.server.env_command import client_app as app
        else:
            from drawbridge.server.cli import app
        app(prog_name="drawbridge")
        code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    """What `sys.exit(code)` would have made the status, printing a message code as it would."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1
