"""An index page that could not be read is not taken for a project with no files: the
resolver (`environments/pip_resolve.py`, what `lock` and `env create` use) asks for it
again the next time, and reports the failure meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.environments.errors import RemoteError
from drawbridge.environments.pip_resolve import PipResolver

WHEEL = "demo-1.0-py3-none-any.whl"
PAGE = f'<html><body><a href="../../files/{WHEEL}#sha256={"0" * 64}">{WHEEL}</a></body></html>'


class _Index(BaseHTTPRequestHandler):
    """A simple index that refuses every request while `refusing` is set."""

    refusing = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.refusing.is_set():
            self.send_response(403)
            self.end_headers()
            return
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_refused_once_is_asked_for_again(index_url: str) -> None:
    with SimpleIndexUpstream(index_url, None) as index:
        resolver = PipResolver([index], uv="uv")
        _Index.refusing.set()
        try:
            with pytest.raises(RemoteError, match="403"):
                resolver.files("demo")
        finally:
            _Index.refusing.clear()
        assert [file.filename for file in resolver.files("demo")] == [WHEEL]
