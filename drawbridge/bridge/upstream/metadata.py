"""What an upstream offers, read once per run: file listings in memory, core metadata on disk.

The resolver asks for the same project's files and the same wheel's metadata from many
targets at once; a `Catalogue` fetches each once (concurrent askers wait for the first)
and keeps metadata by the file's sha256 under `cache_dir/metadata/`, so a warm run reads
no metadata from the network. A wheel whose metadata is malformed (missing, naming another
project or version, unparsable) raises MalformedDistribution; the catalogue keeps which
target passed which such file over, for the plan to say.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from drawbridge.bridge.errors import BridgeError, MalformedDistribution
from drawbridge.bridge.upstream.pypi import Upstream, UpstreamFile
from drawbridge.bridge.translate.targets import Target

Value = TypeVar("Value")


class InvalidMetadata(MalformedDistribution):
    """A wheel whose core metadata lacks Name or Version, or names another project or version."""


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of a wheel's METADATA the resolver needs."""

    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None


def parse_core_metadata(raw: bytes, file: UpstreamFile) -> CoreMetadata:
    """Name, Version, Requires-Dist and Requires-Python of a METADATA file, which must name
    `file`'s project and version."""
    try:
        fields, _ = parse_email(raw)
    except ValueError as error:
        raise InvalidMetadata(f"{file.filename}: its METADATA cannot be parsed ({error})") from None
    if "name" not in fields or "version" not in fields:
        raise InvalidMetadata(f"{file.filename}: its METADATA has no Name or Version")
    try:
        same = canonicalize_name(fields["name"]) == canonicalize_name(file.project) and Version(
            fields["version"]
        ) == Version(file.version)
    except InvalidVersion:
        same = False
    if not same:
        raise InvalidMetadata(
            f"{file.filename}: its METADATA names {fields['name']} {fields['version']}"
        )
    return CoreMetadata(
        name=fields["name"],
        version=fields["version"],
        requires_dist=tuple(fields.get("requires_dist", ())),
        requires_python=fields.get("requires_python"),
    )


def python_admits(requires_python: str | None, python: str) -> bool:
    """True if a Requires-Python admits the interpreter version `python` (e.g. "3.11.0").

    An unparsable Requires-Python admits everything, as pip and uv treat it.
    """
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _group_by_version(files: list[UpstreamFile]) -> dict[Version, list[UpstreamFile]]:
    grouped: dict[Version, list[UpstreamFile]] = {}
    for file in files:
        try:
            grouped.setdefault(Version(file.version), []).append(file)
        except InvalidVersion:
            continue
    return dict(sorted(grouped.items(), reverse=True))


class _OncePerKey(Generic[Value]):
    """A memo where concurrent callers for one key wait for the first caller's result."""

    def __init__(self) -> None:
        self._values: dict[str, Value | BridgeError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, compute: Callable[[], Value]) -> Value:
        """The value for `key`, computed by its first caller; a BridgeError is kept, re-raised."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                try:
                    self._values[key] = compute()
                except BridgeError as error:
                    self._values[key] = error
            value = self._values[key]
        if isinstance(value, BridgeError):
            raise value
        return value


class Catalogue:
    """An upstream's listings and core metadata, each fetched once, metadata cached on disk."""

    def __init__(self, upstream: Upstream, cache_dir: Path, workers: int = 16) -> None:
        self.upstream = upstream
        self.metadata_dir = cache_dir / "metadata"
        self._files: _OncePerKey[list[UpstreamFile]] = _OncePerKey()
        self._releases: _OncePerKey[dict[Version, list[UpstreamFile]]] = _OncePerKey()
        self._metadata: _OncePerKey[CoreMetadata] = _OncePerKey()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="catalogue")
        self._passed_over: dict[Target, dict[str, str]] = {}
        self._passed_over_lock = threading.Lock()

    def close(self) -> None:
        """Stop the fetching threads."""
        self._pool.shutdown(wait=True)

    def files(self, project: str) -> list[UpstreamFile]:
        """Every file the upstream offers for `project` (raises UnknownUpstreamProject)."""
        name = canonicalize_name(project)
        return self._files.get(name, lambda: self.upstream.files(name))

    def releases(self, project: str) -> dict[Version, list[UpstreamFile]]:
        """The project's files grouped by version, newest first; unparsable versions left out.

        Grouped once per project: callers must not change the answer.
        """
        name = canonicalize_name(project)
        return self._releases.get(name, lambda: _group_by_version(self.files(name)))

    def metadata(self, file: UpstreamFile) -> CoreMetadata:
        """The wheel's core metadata: from the disk cache, else from the upstream (once);
        MalformedDistribution if it is not this file's (two files of the same bytes under
        different names, as a misnamed copy, are told apart)."""
        key = f"{file.filename} {file.sha256 or file.url}"
        return self._metadata.get(key, lambda: parse_core_metadata(self._raw_metadata(file), file))

    def pass_over(self, target: Target, file: UpstreamFile, error: MalformedDistribution) -> None:
        """Note that `target` passed `file` over because its metadata is malformed."""
        with self._passed_over_lock:
            self._passed_over.setdefault(target, {})[file.filename] = str(error)

    def passed_over(self, target: Target) -> list[str]:
        """What `target` passed over as malformed so far, one sentence per file."""
        with self._passed_over_lock:
            found = dict(self._passed_over.get(target, {}))
        return [f"passed over as unusable: {why}" for _filename, why in sorted(found.items())]

    def requires_python(self, file: UpstreamFile) -> str | None:
        """The file's Requires-Python: the index's word, else (wheels) its METADATA's."""
        if file.requires_python is not None or not file.is_wheel:
            return file.requires_python
        return self.metadata(file).requires_python

    def prefetch(self, projects: Iterable[str] = (), wheels: Iterable[UpstreamFile] = ()) -> None:
        """Fetch listings and metadata in parallel; errors surface later, at first use."""

        def quietly(call: Callable[[], object]) -> None:
            try:
                call()
            except BridgeError:
                pass

        jobs = [self._pool.submit(quietly, partial(self.files, p)) for p in set(projects)]
        jobs += [self._pool.submit(quietly, partial(self.metadata, w)) for w in wheels]
        for job in jobs:
            job.result()

    def _raw_metadata(self, file: UpstreamFile) -> bytes:
        cached = self._cache_path(file)
        if cached and cached.is_file():
            return cached.read_bytes()
        raw = self._fetch_metadata(file)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_name(f".{cached.name}.{os.getpid()}.{threading.get_ident()}")
            temporary.write_bytes(raw)
            os.replace(temporary, cached)
        return raw

    def _fetch_metadata(self, file: UpstreamFile) -> bytes:
        """The wheel's METADATA from the upstream (which probes PEP 658 `.metadata` first)."""
        return self.upstream.metadata(file)

    def _cache_path(self, file: UpstreamFile) -> Path | None:
        if not file.sha256:
            return None
        return self.metadata_dir / file.sha256[:2] / f"{file.sha256}.metadata"
