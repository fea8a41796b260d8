"""Upstream PyPI clients: a PEP 503/691 simple index, or a drop folder of wheels and sdists.

Listing uses PEP 691 JSON with an HTML fallback; metadata comes from PEP 658 `.metadata`
files before any wheel is downloaded. Downloads go through `downloads.fetch_verified`
(checked against the index's sha256, cached by it, retried) and run in parallel.

What only reading files needs (the channel's distribution readers, packaging's metadata
parser) and the HTML pages' parser are imported where they are used: `drawbridge lock`
lists JSON pages and reads no file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urldefrag, urljoin

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from drawbridge.bridge.upstream.downloads import DownloadCache, fetch_verified, get
from drawbridge.bridge.errors import (
    BridgeError,
    HashMismatch,
    MalformedDistribution,
    UpstreamError,
)
from drawbridge.channel.errors import InvalidDistribution

JSON_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)


class UnknownUpstreamProject(BridgeError):
    """The upstream index has no project of that name."""


@dataclass(frozen=True)
class UpstreamFile:
    """One wheel or sdist an upstream offers."""

    project: NormalizedName
    filename: str
    url: str
    version: str
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    has_metadata: bool = False  # a PEP 658 .metadata file exists

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def file_version(filename: str) -> str | None:
    """The version a wheel or sdist filename declares, or None for anything else."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


class Upstream(Protocol):
    """Where the bridge reads Python distributions from."""

    def files(self, project: str) -> list[UpstreamFile]: ...

    def metadata(self, file: UpstreamFile) -> bytes: ...

    def fetch(self, file: UpstreamFile) -> Path: ...

    def close(self) -> None:
        """Let go of connections; the upstream is not used after."""


def parse_simple_html(project: NormalizedName, page_url: str, text: str) -> list[UpstreamFile]:
    """The files of a PEP 503 page."""
    from drawbridge.bridge.upstream.simple_html import page_links

    files = []
    for link in page_links(text):
        href = link.get("href") or ""
        url, fragment = urldefrag(urljoin(page_url, href))
        filename = url.rsplit("/", 1)[-1]
        version = file_version(filename)
        if version is None:
            continue
        sha256 = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        metadata = link.get("data-core-metadata") or link.get("data-dist-info-metadata")
        files.append(
            UpstreamFile(
                project=project,
                filename=filename,
                url=url,
                version=version,
                sha256=sha256,
                requires_python=link.get("data-requires-python"),
                yanked="data-yanked" in link,
                has_metadata=bool(metadata) and metadata != "false",
            )
        )
    return files


def parse_simple_json(
    project: NormalizedName, page_url: str, document: dict[str, Any]
) -> list[UpstreamFile]:
    """The files of a PEP 691 JSON page."""
    files = []
    for entry in document.get("files", []):
        version = file_version(entry["filename"])
        if version is None:
            continue
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        files.append(
            UpstreamFile(
                project=project,
                filename=entry["filename"],
                url=urljoin(page_url, entry["url"]),
                version=version,
                sha256=(entry.get("hashes") or {}).get("sha256"),
                requires_python=entry.get("requires-python"),
                yanked=bool(entry.get("yanked", False)),
                has_metadata=bool(metadata),
            )
        )
    return files


class SimpleIndexUpstream:
    """A PEP 503/691 index: pypi.org, a company mirror, or another Drawbridge (without a
    download cache: its listings and PEP 658 metadata only)."""

    def __init__(
        self, index_url: str, cache: DownloadCache | None, client: httpx.Client | None = None
    ) -> None:
        self.index_url = index_url.rstrip("/") + "/"
        self.cache = cache
        self._owns_client = client is None
        self.client = client or httpx.Client(timeout=60, follow_redirects=True)

    def __enter__(self) -> "SimpleIndexUpstream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool this upstream opened (a client passed in stays open)."""
        if self._owns_client:
            self.client.close()

    def files(self, project: str) -> list[UpstreamFile]:
        name = canonicalize_name(project)
        page_url = f"{self.index_url}{name}/"
        response = get(self.client, page_url, headers={"Accept": JSON_ACCEPT})
        if response.status_code == 404:
            raise UnknownUpstreamProject(f"no project {project!r} on {self.index_url}")
        if response.status_code != 200:
            raise UpstreamError(f"{page_url} answered {response.status_code}")
        content_type = response.headers.get("content-type", "")
        try:
            if "json" in content_type:
                return parse_simple_json(name, str(response.url), response.json())
            return parse_simple_html(name, str(response.url), response.text)
        except (ValueError, KeyError) as error:
            raise UpstreamError(f"{page_url}: malformed index page ({error})") from error

    def metadata(self, file: UpstreamFile) -> bytes:
        """A wheel's METADATA: its PEP 658 `.metadata` file, else the wheel's own.

        `.metadata` is asked for even where the page does not advertise it: PyPI serves one
        for every wheel, but mirrors and proxies often drop the `core-metadata` key, and
        without the probe whole wheels would be downloaded (hundreds of MB for numpy over
        25 targets). What the probe gets is used only if it names this file's project and
        version; where the page advertised it, the index read it from the wheel, so one
        naming anything else means the wheel is malformed (MalformedDistribution), and the
        wheel is not downloaded to find that out again.
        """
        if file.is_wheel:
            response = get(self.client, file.url + ".metadata")
            if response.status_code == 200:
                mismatch = _mismatch(response.content, file)
                if not mismatch:
                    return response.content
                if file.has_metadata:
                    raise MalformedDistribution(
                        f"{file.filename}: its core metadata (PEP 658) {mismatch}"
                    )
        return read_wheel_metadata(self.fetch(file))

    def fetch(self, file: UpstreamFile) -> Path:
        if self.cache is None:
            raise UpstreamError(
                f"cannot download {file.filename}: this reader of {self.index_url} has no "
                "download cache (it reads listings and metadata only)"
            )
        return fetch_verified(self.client, file.url, file.sha256, file.filename, self.cache)


class FolderUpstream:
    """A drop folder of wheels and sdists, filled by the company's import process."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UpstreamError(f"upstream folder {folder} does not exist")
        self.folder = folder.resolve()
        self._by_project: dict[str, list[UpstreamFile]] | None = None

    def _scan(self) -> dict[str, list[UpstreamFile]]:
        if self._by_project is None:
            from drawbridge.channel.distributions import sha256_file

            by_project: dict[str, list[UpstreamFile]] = {}
            for path in sorted(self.folder.rglob("*")):
                version = file_version(path.name) if path.is_file() else None
                if version is None:
                    continue
                project = canonicalize_name(path.name.split("-")[0])
                by_project.setdefault(project, []).append(
                    UpstreamFile(project, path.name, str(path), version, sha256_file(path))
                )
            self._by_project = by_project
        return self._by_project

    def distribution_folders(self) -> list[Path]:
        """Every folder (the drop folder or below it) that holds a wheel or an sdist."""
        folders = {Path(file.url).parent for files in self._scan().values() for file in files}
        return sorted(folders) or [self.folder]

    def files(self, project: str) -> list[UpstreamFile]:
        name = canonicalize_name(project)
        if name not in self._scan():
            raise UnknownUpstreamProject(f"no project {project!r} in the folder {self.folder}")
        return list(self._scan()[name])

    def metadata(self, file: UpstreamFile) -> bytes:
        return read_wheel_metadata(self.fetch(file))

    def fetch(self, file: UpstreamFile) -> Path:
        from drawbridge.channel.distributions import sha256_file

        path = Path(file.url)
        if sha256_file(path) != file.sha256:
            raise HashMismatch(
                f"{file.filename} changed in the drop folder while Drawbridge read it"
            )
        return path

    def close(self) -> None:
        """Nothing to let go of: a folder holds no connections."""


def _mismatch(metadata: bytes, file: UpstreamFile) -> str:
    """What `metadata` says instead of `file`'s project and version ("names tri 0.4.0"), or
    the empty string when it names them."""
    from packaging.metadata import parse_email

    try:
        fields, _ = parse_email(metadata)
    except ValueError as error:
        return f"cannot be parsed ({error})"
    name, version = fields.get("name", ""), fields.get("version", "")
    try:
        if canonicalize_name(name) == file.project and Version(version) == Version(file.version):
            return ""
    except InvalidVersion:
        pass
    return f"names {name or 'no project'} {version or 'and no version'}"


def read_wheel_metadata(wheel: Path) -> bytes:
    """The METADATA of a downloaded wheel (the channel layer's one lookup), or
    MalformedDistribution saying what is wrong with the wheel."""
    from drawbridge.channel import distributions

    try:
        return distributions.read_wheel_metadata(wheel)
    except InvalidDistribution as error:
        raise MalformedDistribution(str(error)) from None


def fetch_all(
    upstream: Upstream,
    files: Sequence[UpstreamFile],
    workers: int = 4,
    on_done: Callable[[UpstreamFile], None] | None = None,
) -> tuple[dict[str, Path], dict[str, str]]:
    """Fetch files in parallel: (filename -> path, filename -> error) for each one."""
    fetched: dict[str, Path] = {}
    failed: dict[str, str] = {}

    def one(file: UpstreamFile) -> None:
        try:
            fetched[file.filename] = upstream.fetch(file)
        except BridgeError as error:
            failed[file.filename] = str(error)
        if on_done:
            on_done(file)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, _unique(files)))
    return fetched, failed


def _unique(files: Iterable[UpstreamFile]) -> list[UpstreamFile]:
    seen: dict[str, UpstreamFile] = {}
    for file in files:
        seen.setdefault(file.filename, file)
    return list(seen.values())
