"""Shared fixtures: homes, a real server process, clean client environments, test upstream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, initialise_home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

sys.path.insert(0, str(Path(__file__).parent))

from upstream import build_upstream_channel  # noqa: E402

BIN = Path(sys.executable).parent
PYENV = Path("/root/.pyenv/versions")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_env(**extra: str) -> dict[str, str]:
    """The environment for a real pip/uv/twine: no site pip configuration, no other index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CACHE="1",
        UV_NO_CONFIG="1",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """A running `drawbridge serve` process and what tests need to talk to it."""

    home: Home
    url: str
    process: subprocess.Popen

    @property
    def channels(self) -> Channels:
        return Channels(self.home, Database(self.home.database_url))

    def token(self, role: Role, user: str | None = None) -> str:
        return create_token(Database(self.home.database_url), user or f"{role.name}-user", role)

    def publish(self, *paths: Path, channel: str = "main") -> None:
        published, refused = self.channels.publish_many(channel, list(paths))
        assert not refused, refused

    def stop(self) -> None:
        """Stop the server and its workers (they share a process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL the server and every worker at once, as an OOM kill or a power cut would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def start_server(root: Path, port: int | None = None) -> Server:
    port = port or free_port()
    log = (root.parent / f"server-{port}.log").open("ab")
    process = subprocess.Popen(
        [str(BIN / "drawbridge"), "serve", "--home", str(root), "--port", str(port), "--workers", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(root.parent / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                from drawbridge.channel.home import load_home

                return Server(home=load_home(root), url=url, process=process)
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("server did not start in 30 s")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    loaded = initialise_home(tmp_path / "home")
    Channels(loaded, Database(loaded.database_url)).create("main")
    return loaded


@pytest.fixture
def channels(home: Home) -> Channels:
    return Channels(home, Database(home.database_url))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "home")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("srv") / "home")
    yield running
    running.stop()


PY27 = "2.7.18"


@pytest.fixture(scope="session")
def upstream_channel() -> Path:
    """The stand-in upstream conda channel: the machine's Python, and 2.7 when present."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not (PYENV / version).is_dir():
        pytest.skip(f"no pyenv Python {version} to pack into the test upstream")
    return build_upstream_channel([version] + ([PY27] if (PYENV / PY27).is_dir() else []))


def _pypi_reachable() -> bool:
    try:
        return httpx.head("https://pypi.org/simple/", timeout=5).status_code < 500
    except httpx.HTTPError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `online` tests, saying why, when pypi.org cannot be reached."""
    online = [item for item in items if "online" in item.keywords]
    if online and not _pypi_reachable():
        skip = pytest.mark.skip(reason="pypi.org is not reachable (online test)")
        for item in online:
            item.add_marker(skip)
