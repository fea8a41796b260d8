"""The application `drawbridge serve`'s workers run: the server's, with the client's lock
code handed to it (the server may not import environments/, DESIGN.md).

`POST /api/lock` (server/routes/locks.py) makes a lock with `make_lock`, which runs
`environments.served_lock` and turns what stands in the way into the route's refusal.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.errors import EnvironmentFailure
from drawbridge.environments.served_lock import lock_for_client
from drawbridge.server import app as server_app
from drawbridge.server.routes.locks import LockOrder, LockRefused


def make_lock(order: LockOrder) -> dict[str, Any]:
    """The lock `order` asks for (a `LockMaker`); LockRefused with the reason if none."""
    asked = order.asked
    given = {
        "glibc": asked.glibc,
        "macos_x86": asked.macos_intel,
        "macos_arm": asked.macos_arm,
    }
    baseline = SystemBaseline(**{k: v for k, v in given.items() if v is not None})
    try:
        return lock_for_client(
            asked.environment,
            asked.file_name,
            order.server,
            order.reach,
            order.token,
            asked.platforms,
            baseline,
            order.uv_cache,
        )
    except EnvironmentFailure as error:
        raise LockRefused(str(error)) from None


def app_from_environment() -> ASGIApp:
    """The factory `drawbridge serve`'s workers call (server.app.app_from_environment, with
    the lock maker)."""
    return server_app.app_from_environment(lock_maker=make_lock)
