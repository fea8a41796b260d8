"""Drawbridge serving a home for tests, two ways: a real `drawbridge serve` process on a TCP
port (for real clients, crashes and workers), or the same ASGI app called in-process (for
HTTP behaviour that needs no real client: faster, and no port)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from clients import BIN
from databases import new_home

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

if TYPE_CHECKING:
    from starlette.types import ASGIApp

#: the origin of in-process requests (what the app sees as its own URL)
IN_PROCESS_URL = "http://testserver"


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
    """`drawbridge serve --home root` (two workers), once it answers /health. A home that
    does not exist yet is made first (`databases.new_home`: on this run's database)."""
    new_home(root)
    port = port or free_port()
    log_path = root.parent / f"server-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                str(BIN / "drawbridge"),
                "serve",
                "--home",
                str(root),
                "--port",
                str(port),
                "--workers",
                "2",
            ],
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


class _Lifespan:
    """The ASGI lifespan protocol, driven by hand (httpx's ASGITransport does not), so the
    app starts (recovery) and stops (the database closed) as it does under granian."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.create_task(self._app(scope, self._to_app.get, self._from_app.put))
        await self._exchange("startup")

    async def shutdown(self) -> None:
        await self._exchange("shutdown")
        assert self._task is not None
        await self._task

    async def _exchange(self, phase: str) -> None:
        await self._to_app.put({"type": f"lifespan.{phase}"})
        answer = await self._from_app.get()
        if answer["type"] != f"lifespan.{phase}.complete":
            raise RuntimeError(
                f"the app's lifespan {phase} failed: {answer.get('message', answer)}"
            )


class AppClient(Served):
    """The app `create_app(home)` returns (the `/t/<token>/` prefix, the fast path, the
    routes), called in-process through `httpx.ASGITransport`: no process, no port.
    With `lifespan=False` the app never starts (no recovery runs), to look at a home as
    a crash left it.

    Synchronous, so tests read like the real-server ones: one event loop lives as long as
    the client and runs each call. Responses are read in full and decoded as httpx decodes
    them (gzip included); `raw` gives a body as the app sent it. Close it, or use `with`.
    """

    def __init__(self, home: Home, url: str = IN_PROCESS_URL, lifespan: bool = True) -> None:
        # imported here, not at the top: conftest imports this module, and the web stack
        # should load only in tests that serve
        from drawbridge.server.app import create_app

        super().__init__(home=home, url=url)
        app = create_app(home)
        self._runner = asyncio.Runner()
        self._lifespan = _Lifespan(app) if lifespan else None
        if self._lifespan:
            self._runner.run(self._lifespan.startup())
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """`path` (below `url`) answered; redirects are not followed."""
        return self._runner.run(self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def raw(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The body of the answer as the app sent it: not decoded (a gzip body stays gzip)."""

        async def read() -> bytes:
            async with self._client.stream(method, path, **kwargs) as response:
                return b"".join([chunk async for chunk in response.aiter_raw()])

        return self._runner.run(read())

    def close(self) -> None:
        try:
            self._runner.run(self._client.aclose())
            if self._lifespan:
                self._runner.run(self._lifespan.shutdown())
        finally:
            self._runner.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def serve_in_process(root: Path) -> AppClient:
    """What `drawbridge serve --home root` would serve, in-process: the home created if it
    is missing, with its default channel, as the serve command does."""
    home = new_home(root)
    database = Database(home.database_url)
    try:
        Channels(home, database).create(home.server.default_channel)
    finally:
        database.close()
    return AppClient(load_home(root))
