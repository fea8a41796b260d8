"""Resolve an environment file's `pip:` section against Drawbridge's simple index.

uv resolves the requirements for the target platform and Python (wheels only: prod
machines have no compilers), with what the conda part already installs pinned as
constraints and left out of the result. Each resolved project then gets the one wheel
pip would pick on the target, with its sha256 from the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import rattler
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.upstream.pypi import (
    SimpleIndexUpstream,
    UnknownUpstreamProject,
    UpstreamFile,
)
from drawbridge.bridge.translate.targets import DEFAULT_MACOS, Target, best_wheel
from drawbridge.environments.errors import Missing, RemoteError, Unresolvable
from drawbridge.environments.uv_run import UvRequest, UvRun

#: the oldest target Python uv resolves for
OLDEST_UV_PYTHON = Version("3.6")


@dataclass(frozen=True)
class PipPackage:
    """One locked wheel."""

    name: str
    version: str
    url: str
    sha256: str

    @property
    def location(self) -> str:
        """The URL with the hash in a fragment, as py-rattler takes it (lock.hashes_into_fields)."""
        return f"{self.url}#sha256={self.sha256}"


def conda_provided_projects(
    records: list[rattler.RepoDataRecord], names: NameTable
) -> dict[NormalizedName, str]:
    """PyPI project → version for the Python packages the conda part installs."""
    provided: dict[NormalizedName, str] = {}
    for record in records:
        name = record.name.normalized
        if name in ("python", "python_abi"):
            continue
        depends = [d.split()[0] for d in record.depends]
        if "python" in depends or record.noarch.python:
            provided[names.pypi_name(name)] = str(record.version)
    return provided


def python_version(records: list[rattler.RepoDataRecord]) -> str:
    for record in records:
        if record.name.normalized == "python":
            return str(record.version)
    raise Unresolvable(
        [], "the environment has a pip: section but its conda part installs no python"
    )


class PipResolver:
    """Resolve pip requirements for one target against Drawbridge's simple indexes."""

    def __init__(
        self,
        indexes: list[SimpleIndexUpstream],
        uv: str,
        token: str | None = None,
        glibc: str = "2.17",
        macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS,
        uv_cache: Path | None = None,
    ) -> None:
        if not indexes:
            raise RemoteError(
                "the server has no channel whose simple index could serve the pip: section"
            )
        self.simple_urls = [index.index_url for index in indexes]
        self.indexes = indexes
        self.uv = uv
        self.token = token
        #: uv's cache folder (the server's locks); None: uv runs without a cache
        self.uv_cache = uv_cache
        self.glibc_minor = int(glibc.split(".")[1])
        #: the oldest macOS of each Mac subdir: the newest a wheel there may need
        self.macos = dict(macos)
        self._files: dict[str, list[UpstreamFile]] = {}

    def uv_request(
        self,
        requirements: list[str],
        platform: str,
        python: str,
        provided: Mapping[NormalizedName, str],
    ) -> UvRequest:
        """What uv is given to resolve `requirements` for the target."""
        return UvRequest(
            requirements=tuple(requirements),
            platform=platform,
            python=python,
            provided=tuple(sorted(provided.items())),
            indexes=tuple(self.simple_urls),
            glibc_minor=self.glibc_minor,
            macos=self.macos.get(platform),
        )

    def resolve(self, request: UvRequest, started: UvRun | None = None) -> list[PipPackage]:
        """The wheels of `request`'s resolution; `started` is a run begun earlier on a guess,
        taken if it was started from `request` with this resolver's token, stopped if not."""
        python, platform = request.python, request.platform
        if Version(python) < OLDEST_UV_PYTHON:
            raise Unresolvable(
                [],
                f"{platform}: the pip: section needs Python {OLDEST_UV_PYTHON}+ to be resolved "
                "(uv's floor); "
                f"this environment's Python is {python}: list those packages in the conda part "
                "instead (drawbridge bridge makes conda packages for Python 2.7 too)",
            )
        if started is not None and (started.request, started.token) != (request, self.token):
            started.stop()
            started = None
        uv = started or UvRun(request, self.uv, self.token, cache=self.uv_cache)
        try:  # the index is asked about the requested projects (and the last pins) meanwhile
            self._fetch([Requirement(line).name for line in request.requirements] + [*uv.projects])
            missing = self.find_missing(list(request.requirements), platform, python)
            if missing:
                raise Unresolvable(missing)
            pins = uv.pins()
        finally:
            uv.stop()
        self._fetch([name for name, _version in pins])
        target = Target(platform, ".".join(python.split(".")[:2]))
        return [self._pick_wheel(name, version, target) for name, version in pins]

    def find_missing(
        self, requirements: list[str], platform: str, python: str | None
    ) -> list[Missing]:
        """The requested projects the index cannot serve (wheels checked when `python` is known)."""
        target = Target(platform, ".".join(python.split(".")[:2])) if python else None
        self._fetch([Requirement(line).name for line in requirements])
        return [
            m
            for line in requirements
            if (m := self._check_requirement(line, platform, target)) is not None
        ]

    def files(self, project: str) -> list[UpstreamFile]:
        """The project's files in the first index that has it; [] in none."""
        name = canonicalize_name(project)
        if name not in self._files:
            found: list[UpstreamFile] = []
            for index in self.indexes:
                try:
                    found = index.files(name)
                    break
                except UnknownUpstreamProject:
                    continue
                except BridgeError as error:  # kept for no one: asked again next time
                    raise RemoteError(str(error)) from None
            self._files[name] = found
        return self._files[name]

    def _fetch(self, projects: list[str]) -> None:
        """Read the pages of `projects` not read yet, several at a time (each is a round trip
        to the server; their order does not matter)."""
        wanted = sorted({canonicalize_name(p) for p in projects} - self._files.keys())
        if len(wanted) < 2:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
            list(pool.map(self.files, wanted))

    def _check_requirement(self, line: str, platform: str, target: Target | None) -> Missing | None:
        """Why a requested project cannot be installed on `target`, or None if it can."""
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        files = [f for f in self.files(name) if not f.yanked]
        where = f"Drawbridge's pip index ({', '.join(self.simple_urls)})"
        if not files:
            return Missing("pip", name, line, platform, f"not in {where}")
        matching = [f for f in files if _version_in(f.version, requirement.specifier)]
        if not matching:
            versions = sorted({f.version for f in files}, key=_sort_key)
            return Missing(
                "pip",
                name,
                line,
                platform,
                f"no version matches (available: {', '.join(versions[-8:])})",
            )
        if target is not None and self._best_wheel([f.filename for f in matching], target) is None:
            kinds = sorted(
                {f.filename.rsplit("-", 3)[-1] if f.is_wheel else "sdist" for f in matching}
            )
            return Missing(
                "pip",
                name,
                line,
                target.subdir,
                f"no wheel for {target.subdir} with Python {target.python} (has: "
                f"{', '.join(kinds)})",
            )
        return None

    def _best_wheel(self, filenames: list[str], target: Target) -> str | None:
        return best_wheel(filenames, target, manylinux=(2, self.glibc_minor), macos=self.macos)

    def _pick_wheel(self, name: str, version: str, target: Target) -> PipPackage:
        candidates = [
            f
            for f in self.files(name)
            if f.is_wheel and _same_version(f.version, version) and not f.yanked
        ]
        chosen = self._best_wheel([f.filename for f in candidates], target)
        if chosen is None:
            raise Unresolvable(
                [
                    Missing(
                        "pip", name, f"{name}=={version}", target.subdir, f"no wheel for {target}"
                    )
                ]
            )
        file = next(f for f in candidates if f.filename == chosen)
        if not file.sha256:
            raise RemoteError(f"the index gives no sha256 for {file.filename}")
        return PipPackage(name=name, version=version, url=file.url, sha256=file.sha256)


def _version_in(version: str, specifier: SpecifierSet) -> bool:
    try:
        return specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
