"""A reverse proxy for client tests: it relays to a server, records what it relayed, can
replace the client's `Accept` header, so one client can be sent HTML or JSON pages, and can
send bodies slowly (`rate`), so a test can stop a client half-way through a download."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: headers that belong to one hop and are not passed on
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "content-length",
}


@dataclass
class Relay:
    """Relay `upstream` on a local port; `accept`, when set, replaces the client's Accept;
    `rate`, when set, is how many bytes a second a body is sent at."""

    upstream: str
    accept: str | None = None
    rate: int | None = None
    relayed: list[tuple[str, str, str]] = field(default_factory=list)  # (path, Accept, type)

    def __enter__(self) -> Relay:
        relay = self
        client = httpx.Client(base_url=self.upstream, timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | {"host"}
                }
                headers["Accept-Encoding"] = "identity"
                if relay.accept is not None:
                    headers["Accept"] = relay.accept
                answer = client.get(self.path, headers=headers)
                content_type = answer.headers.get("content-type", "")
                relay.relayed.append((self.path, headers.get("Accept", ""), content_type))
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                step = max(1, (relay.rate or 0) // 20) if relay.rate else len(answer.content) or 1
                for start in range(0, len(answer.content), step):
                    self.wfile.write(answer.content[start : start + step])
                    if relay.rate:
                        time.sleep(0.05)

            def log_message(self, *args: object) -> None:
                pass

        self._client = client
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def page_types(self, project: str) -> set[str]:
        """The content types the relay passed on for `project`'s simple page."""
        return {
            kind
            for path, _, kind in self.relayed
            if path.rstrip("/").endswith(f"/simple/{project}")
        }
