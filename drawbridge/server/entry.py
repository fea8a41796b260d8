"""The `drawbridge` console script: the client commands start without the server's imports.

`lock`, `env` and `image` run on developer machines and build hosts, often in loops; they
need neither FastAPI nor SQLAlchemy, which take most of a second to import. Everything
else, `--help` included, goes to the full application.
"""

from __future__ import annotations

import sys

#: the commands served by the light application
CLIENT_COMMANDS = frozenset({"lock", "env", "image"})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CLIENT_COMMANDS:
        from drawbridge.server.env_command import client_app

        client_app(prog_name="drawbridge")
    else:
        from drawbridge.server.cli import app

        app(prog_name="drawbridge")
