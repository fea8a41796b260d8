"""The HTTP client of a running Drawbridge: its channels, their URLs, requests to it.

The environment commands talk to Drawbridge only through a `DrawbridgeClient`; its HTTP
session (and the token on it) stays inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.environments.errors import EnvironmentFileError, RemoteError

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class _SchemeTransport(httpx.BaseTransport):
    """httpx's transport, with certificate checking set up only once an https URL is asked
    for: loading the CA bundle took a tenth of `drawbridge lock` against an http:// server.

    Plain-HTTP requests go through a transport without TLS settings (it never speaks TLS);
    a redirect to https goes through the fully verifying one, as without this class.
    """

    def __init__(self) -> None:
        self._plain: httpx.HTTPTransport | None = None
        self._tls: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            self._plain = self._plain or httpx.HTTPTransport(verify=False)
            return self._plain.handle_request(request)
        self._tls = self._tls or httpx.HTTPTransport()
        return self._tls.handle_request(request)

    def close(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                transport.close()


@dataclass(frozen=True)
class ResolvedChannels:
    """The conda channel URLs to solve against and the simple indexes for the pip section."""

    conda: list[str]
    simple: list[str]


class DrawbridgeClient:
    """One Drawbridge server, as the environment commands use it."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            timeout=TIMEOUT, headers=headers, follow_redirects=True, transport=_SchemeTransport()
        )

    def close(self) -> None:
        """Close the HTTP session (a long-lived caller: the server's locks)."""
        self._http.close()

    def simple_indexes(self, urls: list[str]) -> list[SimpleIndexUpstream]:
        """The server's simple indexes at `urls`, read with this client's session and token."""
        return [SimpleIndexUpstream(url, cache=None, client=self._http) for url in urls]

    def get_json(self, path: str, accept: str = "application/json") -> dict[str, Any] | None:
        """GET a JSON document from the server; None for a 404, RemoteError otherwise."""
        url = path if path.startswith("http") else f"{self.url}{path}"
        try:
            response = self._http.get(url, headers={"Accept": accept})
        except httpx.HTTPError as error:
            raise RemoteError(f"cannot reach Drawbridge at {self.url}: {error}") from None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise RemoteError(
                f"{url}: {response.status_code}: pass a reader token with --token or "
                "$DRAWBRIDGE_TOKEN"
            )
        if response.status_code != 200:
            raise RemoteError(f"{url} answered {response.status_code}: {response.text[:200]}")
        document: dict[str, Any] = response.json()
        return document

    def channel_list(self) -> dict[str, Any]:
        document = self.get_json("/api/channels")
        if document is None:
            raise RemoteError(
                f"{self.url} has no /api/channels: is it a Drawbridge server, and new enough?"
            )
        return document

    def resolve_channels(self, names: list[str]) -> ResolvedChannels:
        """Turn an environment file's channels into URLs on this server.

        A name is a Drawbridge channel or an upstream mirror the server passes on; an empty
        list means the server's channels followed by its mirrors. URLs elsewhere are refused:
        the machines that install the lock can reach nothing but Drawbridge.
        """
        listing = self.channel_list()
        own, upstream = listing["channels"], listing["upstream"]
        conda: list[str] = []
        simple: list[str] = []
        for name in names or [*own, *upstream]:
            if name.startswith(self.url + "/"):
                conda.append(name.rstrip("/"))
            elif name in own:
                conda.append(own[name]["conda"])
                simple.append(own[name]["simple"])
            elif name in upstream:
                conda.append(upstream[name]["conda"])
            else:
                raise EnvironmentFileError(
                    f"channel {name!r} is neither a Drawbridge channel "
                    f"({', '.join(own) or 'none'}) "
                    f"nor an upstream mirror that {self.url} passes on "
                    f"({', '.join(upstream) or 'none'})"
                )
        if not simple:
            simple = [entry["simple"] for entry in own.values()][:1]
        return ResolvedChannels(conda=conda, simple=simple)

    def file_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """File a bridging request; the server answers with its number and state."""
        try:
            response = self._http.post(f"{self.url}/api/requests", json=body)
        except httpx.HTTPError as error:
            raise RemoteError(f"cannot reach Drawbridge at {self.url}: {error}") from None
        if response.status_code not in (200, 201):
            raise RemoteError(
                f"filing a request for {body.get('name')}: {response.status_code}: "
                f"{response.text[:200]}"
            )
        answer: dict[str, Any] = response.json()
        return answer
