"""Read a rattler lock file back: what one platform installs, conda and pip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rattler

from drawbridge.environments.errors import LockFileError
from drawbridge.environments.lock import LOCK_ENVIRONMENT
from drawbridge.environments.pip_resolve import PipPackage


@dataclass(frozen=True)
class PlatformLock:
    """The packages of one platform of a lock file."""

    platform: str
    conda: list[rattler.RepoDataRecord]
    pip: list[PipPackage]


def read_lock(path: Path, platform: str) -> PlatformLock:
    """The packages `path` locks for `platform`; LockFileError if it locks none."""
    if not path.is_file():
        raise LockFileError(f"no lock file at {path}; make one with `drawbridge lock`")
    try:
        lock_file = rattler.LockFile.from_path(path)
    except Exception as error:  # py-rattler's own exception types
        raise LockFileError(f"{path} is not a rattler lock file: {error}") from None
    environment = lock_file.environment(LOCK_ENVIRONMENT)
    if environment is None:
        raise LockFileError(f"{path} has no {LOCK_ENVIRONMENT!r} environment")
    owned = {str(p): p for p in lock_file.platforms()}
    if platform not in owned:
        raise LockFileError(
            f"{path} locks {', '.join(sorted(owned))}, not {platform}; lock again with --platform "
            f"{platform}"
        )
    conda = environment.conda_repodata_records_for_platform(owned[platform]) or []
    pip = [
        _pip_package(path, entry)
        for entry in environment.pypi_packages_for_platform(owned[platform]) or []
    ]
    return PlatformLock(platform=platform, conda=list(conda), pip=pip)


def _pip_package(path: Path, entry: rattler.PypiLockedPackage) -> PipPackage:
    """A locked wheel with its sha256 from the lock format's `sha256` field."""
    digest = entry.hashes.sha256.hex() if entry.hashes and entry.hashes.sha256 else ""
    if len(digest) != 64:
        raise LockFileError(
            f"{path}: pip package {entry.name} has no sha256; lock again with `drawbridge lock`"
        )
    return PipPackage(
        name=str(entry.name), version=str(entry.version), url=str(entry.location), sha256=digest
    )
