"""Drawbridge serving a home for tests, two ways: a real `drawbridge serve` process on a TCP
port (for real clients, crashes and workers), or the same ASGI app called in-process (for
HTTP behaviour that needs no real client: faster, and no port)."""

from __future__ import annotations

import asyncio
import functools
import http.client
import http.server
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
import tiers
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


@dataclass(frozen=True)
class RawAnswer:
    """An answer to a request sent byte for byte as given (`raw_request`)."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def raw_request_over_tcp(
    url: str, method: str, target: bytes, headers: list[tuple[bytes, bytes]] = ()
) -> RawAnswer:
    """Send `method target HTTP/1.1` to the server at `url` exactly as given: no client
    normalises the path (`..`, `%2e`) or refuses a malformed escape first."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        lines = [
            method.encode() + b" " + target + b" HTTP/1.1",
            b"Host: " + parts.netloc.encode(),
            b"Connection: close",
            *(name + b": " + value for name, value in headers),
        ]
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        return RawAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


@dataclass
class Served:
    """A home being served at `url`, and what tests do to it behind the server's back."""

    home: Home
    url: str

    @property
    def channels(self) -> Channels:
        return Channels(self.home, Database(self.home.database_url))

    def raw_request(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]] = ()
    ) -> RawAnswer:
        """`target` (a path and query, %-escapes and all) sent as is."""
        return raw_request_over_tcp(self.url, method, target, headers)

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

    def upload(self, path: Path, token: str, channel: str = "main") -> httpx.Response:
        """POST the file at `path` to the channel's upload endpoint, as `drawbridge upload`
        does (a conda package, or a wheel without twine's form fields)."""
        with path.open("rb") as handle:
            return httpx.post(
                f"{self.url}/{channel}/upload/",
                files={"content": (path.name, handle)},
                auth=("__token__", token),
                timeout=120,
            )


# A server starts in about a second; on a machine loaded with other test runs (load average
# 12 on two cores was seen) its two workers took over 30 s.
SERVER_START_SECONDS = 120


def start_server(root: Path, port: int | None = None) -> Server:
    """`drawbridge serve --home root` (two workers), once it answers /health. A home that
    does not exist yet is made first (`databases.new_home`: on this run's database)."""
    tiers.require("server")
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
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return Server(home=load_home(root), url=url, process=process)
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start in {SERVER_START_SECONDS} s")


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
        tiers.require("home")
        # imported here, not at the top: conftest imports this module, and the web stack
        # should load only in tests that serve
        from drawbridge.cli.serving import make_lock
        from drawbridge.server.app import create_app

        super().__init__(home=home, url=url)
        app = create_app(home, lock_maker=make_lock)  # as `drawbridge serve` makes it
        self._runner = asyncio.Runner()
        self._lifespan = _Lifespan(app) if lifespan else None
        if self._lifespan:
            self._runner.run(self._lifespan.startup())
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url)
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """`path` (below `url`) answered; redirects are not followed."""
        return self._runner.run(self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def raw_request(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]] = (),
        raise_exceptions: bool = True,
    ) -> RawAnswer:
        """`target` handed to the app as granian hands it over: `path` %-decoded with
        invalid UTF-8 replaced (U+FFFD), `raw_path` as sent. An exception the app raises
        propagates, unless `raise_exceptions` is False: then the answer the app sent before
        raising it (Starlette's 500) is returned, as a server would send it."""
        raw_path, _, query = target.partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "extensions": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        try:
            self._runner.run(self.app(scope, receive, send))
        except Exception:
            if raise_exceptions:
                raise
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers_sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        return RawAnswer(start["status"], headers_sent, body)

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


def fastapi_app(client: AppClient):  # type: ignore[no-untyped-def]
    """The FastAPI application inside the plain ASGI layers `create_app` puts around it."""
    app = client.app
    while not hasattr(app, "routes"):
        app = app.app
    return app


def every_route(client: AppClient) -> list[tuple[str, str]]:
    """(method, path template) of each route FastAPI would dispatch to, routers included."""
    routes = fastapi_app(client).routes
    try:  # FastAPI >= 0.160 keeps included routers whole; this lists what they hold
        from fastapi.routing import iter_route_contexts

        routes = list(iter_route_contexts(routes))
    except ImportError:
        pass
    # `{channel:channel}` (a convertor: `name` or `owner/name`) is written `{channel}` here
    return sorted(
        {
            (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
            for route in routes
            for method in route.methods or ()
        }
    )


def serve_in_process(root: Path) -> AppClient:
    """What `drawbridge serve --home root` would serve, in-process: the home created if it
    is missing, with its default channel, as the serve command does."""
    tiers.require("home")
    home = new_home(root)
    database = Database(home.database_url)
    try:
        Channels(home, database).create(home.server.default_channel)
    finally:
        database.close()
    return AppClient(load_home(root))


@contextmanager
def static_http_server(root: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """A plain HTTP server of the files under `root` (as a conda mirror's web server is),
    on a free port of 127.0.0.1; stopped and closed when the block ends."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
