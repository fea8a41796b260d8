"""The server's agent API as calls: claim a job, download its recipe and sources (sha256
checked), heartbeat (with the log since the last one), fail, go native, finish with the
outputs and the build record.

The HTTP client is given (`Http`): an `httpx.Client` for a server over the network, or the
in-process app for `drawbridge build`'s local agent; both answer `httpx.Response`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from drawbridge.agent.errors import AgentError, ServerRefused


class Http(Protocol):
    """What the agent needs of an HTTP client: httpx.Client, or the local agent's
    in-process one; the keywords are the ones `AgentApi` sends."""

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Any = None,
        timeout: Any = None,
    ) -> httpx.Response: ...


@dataclass(frozen=True)
class ClaimedJob:
    """A job the server handed this agent, with what it needs to build it."""

    id: int
    recipe: str
    version: str
    recipe_sha256: str
    subdir: str
    python: str
    files: dict[str, str]  # recipe file → sha256
    sources: list[str]  # sha256 of each source
    channels: list[str]  # relative to the server
    heartbeat_seconds: float = 20.0
    lease_seconds: float = 120.0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def target(self) -> str:
        return f"{self.subdir} python {self.python}" if self.python else self.subdir


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class AgentApi:
    """The agent API of one server, as agent `name`."""

    def __init__(self, http: Http, name: str) -> None:
        self.http = http
        self.name = name

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise AgentError(f"cannot reach the Drawbridge server for {url}: {error}") from error
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            raise ServerRefused(
                f"the server refused {method} {url} ({response.status_code}): {detail}",
                response.status_code,
            )
        return response

    def claim(
        self, platforms: Sequence[str], pythons: Sequence[str], recipes: Sequence[str] = ()
    ) -> ClaimedJob | None:
        """The oldest job for `platforms` and `pythons` the server has, or None."""
        body: dict[str, Any] = {
            "agent": self.name,
            "platforms": list(platforms),
            "pythons": list(pythons),
        }
        if recipes:
            body["recipes"] = list(recipes)
        response = self._call("POST", "/api/agent/claim", json=body)
        if response.status_code == 204:
            return None
        raw = response.json()
        return ClaimedJob(
            id=raw["id"],
            recipe=raw["recipe"],
            version=raw["version"],
            recipe_sha256=raw["recipe_sha256"],
            subdir=raw["subdir"],
            python=raw["python"],
            files=raw["files"],
            sources=raw["sources"],
            channels=raw["channels"],
            heartbeat_seconds=raw["heartbeat_seconds"],
            lease_seconds=raw["lease_seconds"],
            raw=raw,
        )

    def _headers(self) -> dict[str, str]:
        return {"agent": self.name}

    def recipe_text(self, job: ClaimedJob) -> str:
        """The approved recipe; AgentError unless its sha256 is the job's."""
        text = self._call("GET", f"/api/agent/jobs/{job.id}/recipe", headers=self._headers()).text
        if sha256_bytes(text.encode("utf-8")) != job.recipe_sha256:
            raise AgentError(f"job {job.id}: the recipe downloaded is not the approved bytes")
        return text

    def recipe_files(self, job: ClaimedJob) -> dict[str, bytes]:
        files = {}
        for name, digest in job.files.items():
            data = self._call(
                "GET", f"/api/agent/jobs/{job.id}/files/{name}", headers=self._headers()
            ).content
            if sha256_bytes(data) != digest:
                raise AgentError(
                    f"job {job.id}: the recipe's file {name} is not what the server listed"
                )
            files[name] = data
        return files

    def source(self, job: ClaimedJob, sha256: str, folder: Path) -> Path:
        """Download the source of `sha256` into `folder`; AgentError if its bytes differ."""
        response = self._call(
            "GET", f"/api/agent/jobs/{job.id}/sources/{sha256}", headers=self._headers()
        )
        name = _filename(response) or f"{sha256}.tar.gz"
        path = folder / Path(name).name
        path.write_bytes(response.content)
        if sha256_file(path) != sha256:
            raise AgentError(f"job {job.id}: the source {name} does not have sha256 {sha256}")
        return path

    def heartbeat(self, job: ClaimedJob, log: str = "") -> bool:
        """Extend the lease; False when the server says stop."""
        answer = self._call(
            "POST", f"/api/agent/jobs/{job.id}/heartbeat", json={"agent": self.name, "log": log}
        )
        action: object = answer.json().get("action")
        return action == "continue"

    def fail(self, job: ClaimedJob, reason: str, log: str = "") -> None:
        self._call(
            "POST",
            f"/api/agent/jobs/{job.id}/fail",
            json={"agent": self.name, "reason": reason, "log": log},
        )

    def native(self, job: ClaimedJob, found: Sequence[str], log: str = "") -> None:
        self._call(
            "POST",
            f"/api/agent/jobs/{job.id}/native",
            json={"agent": self.name, "found": list(found), "log": log},
        )

    def finish(
        self, job: ClaimedJob, outputs: Sequence[Path], record: dict[str, Any], log: str = ""
    ) -> dict[str, Any]:
        """Upload the outputs and the build record; what the server published."""
        handles = [path.open("rb") for path in outputs]
        try:
            published: dict[str, Any] = self._call(
                "POST",
                f"/api/agent/jobs/{job.id}/finish",
                data={"agent": self.name, "record": json.dumps(record), "log": log},
                files=[
                    ("files", (p.name, h, "application/octet-stream"))
                    for p, h in zip(outputs, handles)
                ],
                timeout=600,
            ).json()
            return published
        finally:
            for handle in handles:
                handle.close()


def _filename(response: httpx.Response) -> str:
    disposition: str = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename":
            return value.strip('"')
    return ""
