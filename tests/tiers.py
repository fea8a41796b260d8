"""The suite's tiers, one folder each, and what a test in each may start.

- ``unit/``: pure functions and tmp files: no home, no database, no process of ours;
- ``http/``: a home and the app in-process (httpx's ASGI transport, typer's CliRunner):
  no ``drawbridge`` process, no real server, no real client tool;
- ``clients/``: real processes: ``drawbridge serve`` and its CLI, pip, uv, twine,
  py-rattler installs, rattler-build, grayskull, chromium;
- ``online/``: needs pypi.org (skipped, saying so, when it cannot be reached).

The helpers that start those things (``new_home``, ``serve_in_process``, ``start_server``,
``run_drawbridge``, ``pip_install``, ...) ask `require` first, so a test in a tier that may
not start them fails at once saying where it belongs (as pip's conftest refuses its
``script`` fixture in unit tests), instead of making the fast tiers slow unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest

Tier = Literal["unit", "http", "clients", "online"]
Need = Literal["home", "process", "server", "client"]

TIERS: tuple[Tier, ...] = ("unit", "http", "clients", "online")
#: what each tier may start; a test outside every tier folder may start nothing
ALLOWED: dict[Tier, frozenset[Need]] = {
    "unit": frozenset(),
    "http": frozenset({"home"}),
    "clients": frozenset({"home", "process", "server", "client"}),
    "online": frozenset({"home", "process", "server", "client"}),
}
#: what to say a need is, in a refusal
SAID: dict[Need, str] = {
    "home": "a home (files and a database)",
    "process": "a `drawbridge` process (use typer's CliRunner: `invoke_drawbridge`)",
    "server": "a real `drawbridge serve` (use the in-process app: `app_client`)",
    "client": "a real client tool (pip, uv, twine, py-rattler, chromium)",
}
TESTS = Path(__file__).resolve().parent

#: the tier of the test being run (set by conftest around each test; None between tests,
#: where session fixtures start what the tests that asked for them need)
current: Tier | None = None
#: the test being run, for `DRAWBRIDGE_TEST_NEEDS`
current_test: str | None = None
#: a file to which each need is written as `test-id need` (to find tests a tier too high)
NEEDS_REPORT = os.environ.get("DRAWBRIDGE_TEST_NEEDS")


def tier_of(path: Path) -> Tier | None:
    """The tier a test file is in: its first folder under tests/, if that is a tier."""
    try:
        first = Path(path).resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return first if first in TIERS else None  # type: ignore[return-value]  # checked: in TIERS


def require(need: Need) -> None:
    """Fail the running test if its tier may not start `need`, naming the tier it needs."""
    note(need)
    if current is None or need in ALLOWED[current]:
        return
    fits = next(tier for tier in TIERS if need in ALLOWED[tier])
    pytest.fail(
        f"a test in tests/{current}/ started {SAID[need]}: "
        f"move it to tests/{fits}/ or leave that out",
        pytrace=False,
    )


def note(need: str) -> None:
    """With $DRAWBRIDGE_TEST_NEEDS set, write down that the running test needed `need`."""
    if NEEDS_REPORT and current_test:
        with open(NEEDS_REPORT, "a") as report:
            report.write(f"{current_test} {need}\n")
