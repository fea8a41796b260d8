"""Drawbridge serving a home for tests: a real `drawbridge serve` process on a TCP port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from clients import BIN

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """A home being served at `url`, and what tests do to it behind the server's back."""

    home: Home
    url: str

    @property
    def channels(self) -> Channels:
        return Channels(self.home, Database(self.home.database_url))

    def token(self, role: Role, user: str | None = None) -> str:
        return create_token(Database(self.home.database_url), user or f"{role.name}-user", role)

    def publish(self, *paths: Path, channel: str = "main") -> None:
        published, refused = self.channels.publish_many(channel, list(paths))
        assert not refused, refused


@dataclass
class Server(Served):
    """A running `drawbridge serve` process and what tests need to talk to it."""

    process: subprocess.Popen

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
    """`drawbridge serve --home root` (two workers), once it answers /health."""
    port = port or free_port()
    log_path = root.parent / f"server-{port}.log"
    with log_path.open("ab") as log:
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
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return Server(home=load_home(root), url=url, process=process)
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("server did not start in 30 s")
