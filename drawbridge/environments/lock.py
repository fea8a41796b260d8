"""`drawbridge lock`: an environment file → a rattler lock file (the format pixi reads).

Every platform is solved before anything is written: what cannot be provided is collected
across all of them and reported together, and the lock file appears whole or not at all.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import rattler

from drawbridge.bridge.translate.names import default_table
from drawbridge.environments.auth import rattler_client
from drawbridge.environments.conda_solve import CondaSolver, check_platform
from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.envfile import EnvironmentFile
from drawbridge.environments.errors import EnvironmentFileError, Missing, Unresolvable
from drawbridge.environments.pip_resolve import (
    PipPackage,
    PipResolver,
    conda_provided_projects,
    python_version,
)
from drawbridge.environments.client import DrawbridgeClient
from drawbridge.environments.uv_run import UvRequest, UvRun

#: the environment name inside the lock file (pixi's default environment)
LOCK_ENVIRONMENT = "default"


@dataclass
class LockedPlatform:
    """What one platform installs."""

    platform: str
    conda: list[rattler.RepoDataRecord]
    pip: list[PipPackage] = field(default_factory=list)
    #: what uv resolved the pip part from (None without a pip part)
    uv_request: UvRequest | None = None


@dataclass
class Lock:
    """A solved environment for every platform asked for."""

    channels: list[str]
    platforms: list[LockedPlatform]


def conda_specs(environment: EnvironmentFile) -> list[str]:
    """The conda specs to solve; a pip: section needs pip (conda adds it, with a warning)."""
    specs = list(environment.conda)
    if environment.pip and "pip" not in environment.conda_names():
        specs.append("pip")
    return specs


def lock_environment(
    environment: EnvironmentFile,
    server: DrawbridgeClient,
    platforms: list[str],
    uv: str,
    baseline: SystemBaseline | None = None,
    on_step: Callable[[str], None] = lambda _label: None,
    started: Mapping[str, UvRun] | None = None,
    uv_cache: Path | None = None,
) -> Lock:
    """Solve `environment` for each platform against `server`; Unresolvable lists every gap.

    `started` are uv runs begun on a guess (uv_run.guessed_runs), by platform: one whose
    request turns out to be the platform's is used instead of starting uv again.
    `uv_cache`: the folder uv keeps its cache in (the server's locks); none by default.
    """
    try:
        platforms = [check_platform(p) for p in platforms]
    except ValueError as error:
        raise EnvironmentFileError(str(error)) from None
    channels = server.resolve_channels(environment.channels)
    baseline = baseline or SystemBaseline()
    solver = CondaSolver(channels.conda, baseline, client=rattler_client(server.token))
    resolver = (
        PipResolver(
            server.simple_indexes(channels.simple),
            uv,
            token=server.token,
            glibc=baseline.glibc,
            macos=baseline.macos(),
            uv_cache=uv_cache,
        )
        if environment.pip
        else None
    )
    return _lock_platforms(
        environment, platforms, channels.conda, solver, resolver, on_step, started or {}
    )


def _lock_platforms(
    environment: EnvironmentFile,
    platforms: list[str],
    channels: list[str],
    solver: CondaSolver,
    resolver: PipResolver | None,
    on_step: Callable[[str], None],
    started: Mapping[str, UvRun],
) -> Lock:
    """Each platform's conda solve and pip resolution, gathering what is missing on any."""
    names = default_table()
    locked: list[LockedPlatform] = []
    missing: list[Missing] = []
    details: list[str] = []
    for platform in platforms:
        on_step(f"{platform}: conda")
        try:
            records = solver.solve(conda_specs(environment), platform)
        except Unresolvable as error:
            missing += error.missing
            details += [error.detail] if error.detail else []
            if resolver is not None:  # say what the pip part lacks too, as far as can be known
                missing += resolver.find_missing(environment.pip, platform, None)
            continue
        pip: list[PipPackage] = []
        request = None
        if resolver is not None:
            on_step(f"{platform}: pip")
            try:
                provided = conda_provided_projects(records, names)
                request = resolver.uv_request(
                    environment.pip, platform, python_version(records), provided
                )
                pip = resolver.resolve(request, started.get(platform))
            except Unresolvable as error:
                missing += error.missing
                details += [error.detail] if error.detail else []
                continue
        locked.append(LockedPlatform(platform, records, pip, request))
    if missing or details:
        raise Unresolvable(missing, "\n".join(details))
    return Lock(channels=channels, platforms=locked)


def write_lock(lock: Lock, path: Path) -> None:
    """Write `lock` as a rattler lock file, atomically (a crash leaves the old file or none)."""
    lock_file = rattler.LockFile([rattler.LockPlatform(p.platform) for p in lock.platforms])
    owned = {str(platform): platform for platform in lock_file.platforms()}
    for locked in lock.platforms:
        platform = owned[locked.platform]
        for record in locked.conda:
            lock_file.add_conda_package(LOCK_ENVIRONMENT, platform, record)
        for package in locked.pip:
            lock_file.add_pypi_package(
                LOCK_ENVIRONMENT, platform, package.name, package.version, package.location
            )
    lock_file.set_channels(LOCK_ENVIRONMENT, [rattler.LockChannel(url) for url in lock.channels])
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        lock_file.to_path(Path(partial))
        hashes_into_fields(Path(partial))
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


#: a pip package line of rattler's output: `- pypi: URL#sha256=HEX`, the URL plain (unquoted)
_PYPI_LINE = re.compile(
    r"(?P<indent> *)- pypi: (?P<url>[^\s'\"#]+)#sha256=(?P<digest>[0-9a-f]{64})"
)


def hashes_into_fields(path: Path) -> None:
    """Move each pip package's `#sha256=` from its URL into the lock format's `sha256` field.

    py-rattler can only add a pip package by location; the lock format (and pixi) keeps
    the hash in a field of its own, which rattler reads back as the package's hashes.
    Rattler's lines are moved as text (a YAML round trip took a quarter of `lock`); a
    line of another shape goes through ruamel.yaml, which writes the same file.
    """
    text = path.read_text("utf-8")
    moved = _hashes_moved_as_text(text)
    path.write_text(moved if moved is not None else _hashes_moved_as_yaml(text), "utf-8")


def _hashes_moved_as_text(text: str) -> str | None:
    """`text` with the hashes moved, or None if a line is not of rattler's plain shape.

    An environment's entry loses its fragment; a top-level package gets `sha256:` as its
    mapping's last key, where a YAML round trip adding the key puts it.
    """
    out: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if pending and not line.startswith(" "):
            out.append(f"  sha256: {pending}")
            pending = ""
        if "#sha256=" not in line:
            out.append(line)
            continue
        match = _PYPI_LINE.fullmatch(line)
        if match is None:
            return None
        out.append(f"{match['indent']}- pypi: {match['url']}")
        if not match["indent"]:
            pending = match["digest"]
    if pending:
        return None  # a package at the very end with no newline after it: not rattler's shape
    return "\n".join(out)


def _hashes_moved_as_yaml(text: str) -> str:
    """The same move through a YAML round trip, for lock text the line rule does not cover."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096
    document = yaml.load(text)
    for package in document.get("packages") or []:
        location = package.get("pypi")
        if location and "#sha256=" in location:
            package["pypi"], package["sha256"] = location.split("#sha256=", 1)
    for environment in (document.get("environments") or {}).values():
        for entries in (environment.get("packages") or {}).values():
            for entry in entries:
                if "#sha256=" in (entry.get("pypi") or ""):
                    entry["pypi"] = entry["pypi"].split("#sha256=", 1)[0]
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()
