"""Shared fixtures: homes, Drawbridge served (a real process or in-process), test upstream;
and the tiers (tests/unit, tests/http, tests/clients, tests/online: see tiers.py), each
test marked with its tier and held to what its tier may start.

The helpers they use live in modules beside this one (builders, clients, servers); tests
import those, never this file.
"""

from __future__ import annotations

import os
import sys

# pytest-xdist's workers are started with COLUMNS=80, which no terminal set: the CLI run
# in-process (commands.invoke_drawbridge) would fold its tables at 80 columns there and
# at the full width in a serial run. Dropped before anything imports the CLI's consoles.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import make_sdist
from clients import PY27, PYENV
import databases
import tiers
from databases import new_home
from servers import AppClient, Server, serve_in_process, start_server
from upstream import build_upstream_channel

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token


@pytest.fixture(scope="session", autouse=True)
def database_cluster() -> Iterator[None]:
    """In a PostgreSQL run (DRAWBRIDGE_TEST_DATABASE=postgresql), the cluster every home's
    database lives on, started once and stopped at the end."""
    if databases.MODE == "postgresql":
        databases.cluster()
    yield
    databases.stop_cluster()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    loaded = new_home(tmp_path / "home")
    Channels(loaded, Database(loaded.database_url)).create("main")
    return loaded


@pytest.fixture
def channels(home: Home) -> Channels:
    return Channels(home, Database(home.database_url))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real `drawbridge serve` process, for real clients."""
    running = start_server(tmp_path / "home")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("srv") / "home")
    yield running
    running.stop()


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[AppClient]:
    """The same app in-process, for HTTP behaviour that needs no real client."""
    with serve_in_process(tmp_path / "home") as client:
        yield client


@pytest.fixture(scope="module")
def module_app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    with serve_in_process(tmp_path_factory.mktemp("app") / "home") as client:
        yield client


@pytest.fixture(scope="session")
def upstream_channel() -> Path:
    """The stand-in upstream conda channel: the machine's Python, and 2.7 when present."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not (PYENV / version).is_dir():
        pytest.skip(f"no pyenv Python {version} to pack into the test upstream")
    return build_upstream_channel([version] + ([PY27] if (PYENV / PY27).is_dir() else []))


@pytest.fixture(scope="session")
def upstream_39_312() -> Path:
    """The stand-in upstream with Pythons 3.9 and 3.12 (and this machine's 3.11) for linux-64."""
    versions = ["3.9.18", "3.12.1", "3.11.7"]
    if not all((PYENV / v).is_dir() for v in versions):
        pytest.skip(f"needs pyenv Pythons {', '.join(versions)}")
    return build_upstream_channel(versions, name="upstream-py39-py312")


@pytest.fixture
def recipe_site(tmp_path: Path, upstream_channel: Path) -> dict:
    """A home for recipe tests: its upstream conda is the test upstream, its upstream PyPI a
    drop folder holding the sdist `sdist-demo`; Python 3.11; and a token per role."""
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    config = config.replace(
        "upstream_conda = []", f'upstream_conda = ["{upstream_channel.as_uri()}"]'
    )
    config = config.replace(
        'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.11"]'
    )
    config = config.replace(
        'upstream_pypi = "https://pypi.org/simple/"', f'upstream_pypi = "{tmp_path / "drop"}"'
    )
    home.config_path.write_text(config)
    Channels(home, Database(home.database_url)).create("main")
    make_sdist(tmp_path / "drop", "sdist-demo", "1.0")
    database = Database(home.database_url)
    return {
        "home": home.root,
        "tmp": tmp_path,
        "maintainer": create_token(database, "mia", Role.maintainer),
        "reader": create_token(database, "rex", Role.reader),
        "uploader": create_token(database, "uma", Role.uploader),
    }


def _pypi_reachable() -> bool:
    try:
        return httpx.head("https://pypi.org/simple/", timeout=5).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier (`-m unit`, `-m "http or clients"`); refuse a test file
    outside the tier folders; skip `online` tests, saying why, when pypi.org cannot be
    reached."""
    strays = sorted({str(item.path) for item in items if tiers.tier_of(item.path) is None})
    if strays:
        raise pytest.UsageError(
            "test files live in a tier folder (tests/unit, tests/http, tests/clients, "
            "tests/online; see tests/tiers.py): " + ", ".join(strays)
        )
    for item in items:
        tier = tiers.tier_of(item.path)
        item.add_marker(tier)
        if tier == "online":
            item.add_marker("online")
    online = [item for item in items if "online" in item.keywords]
    if online and not _pypi_reachable():
        skip = pytest.mark.skip(reason="pypi.org is not reachable (online test)")
        for item in online:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    return f"drawbridge homes on: {databases.MODE} (DRAWBRIDGE_TEST_DATABASE)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A PostgreSQL run fails if some home still made an SQLite database: that test made
    its home without `databases.new_home` and so never ran on PostgreSQL."""
    if databases.MODE != "postgresql" or not hasattr(session.config, "_tmp_path_factory"):
        return
    base = session.config._tmp_path_factory.getbasetemp()
    strays = sorted(str(p.relative_to(base)) for p in base.rglob("drawbridge.db"))
    if strays:
        writer = session.config.get_terminal_writer()
        writer.line()
        writer.line(
            "homes on SQLite in a PostgreSQL run (make them with databases.new_home): "
            + ", ".join(strays),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Hold the test, and the fixtures first set up for it, to what its tier may start."""
    tiers.current, tiers.current_test = tiers.tier_of(item.path), item.nodeid
    try:
        yield
    finally:
        tiers.current = tiers.current_test = None
