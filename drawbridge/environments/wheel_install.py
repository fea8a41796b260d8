"""Install locked wheels into an environment without running its Python (images).

An image may be for another architecture than the machine building it, and its scripts
must point at where the environment lives in the image. `installer` (pip's own core)
writes the wheels with the target's layout and the image's interpreter in the script
headers; each wheel is checked against the lock's sha256 before it is opened.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import httpx
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile

from drawbridge.bridge.upstream.downloads import DownloadCache, fetch_verified
from drawbridge.bridge.errors import BridgeError, HashMismatch
from drawbridge.bridge.wheels.schemes import destination_options
from drawbridge.bridge.translate.targets import Target
from drawbridge.environments.errors import InstallError
from drawbridge.environments.pip_resolve import PipPackage

DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def download_verified(package: PipPackage, client: httpx.Client, cache: DownloadCache) -> Path:
    """Fetch a locked wheel (the bridge's verified download); InstallError if it does not
    match the lock."""
    filename = package.url.rsplit("/", 1)[-1]
    try:
        return fetch_verified(client, package.url, package.sha256, filename, cache)
    except HashMismatch as error:
        raise InstallError(f"{filename} does not match the lock: {error}") from None
    except BridgeError as error:
        raise InstallError(str(error)) from None


def install_wheels(
    packages: list[PipPackage],
    prefix: Path,
    platform: str,
    python: str,
    runtime_prefix: str,
    token: str | None = None,
) -> None:
    """Install `packages` into `prefix` laid out for `platform`/`python`, scripts naming
    `runtime_prefix`'s Python; nothing is compiled (the target's Python may not run here)."""
    target = Target(platform, ".".join(python.split(".")[:2]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with (
        tempfile.TemporaryDirectory(prefix="drawbridge-wheels-") as scratch,
        httpx.Client(timeout=DOWNLOAD_TIMEOUT, headers=headers, follow_redirects=True) as client,
    ):
        cache = DownloadCache(Path(scratch))
        for package in packages:
            wheel = download_verified(package, client, cache)
            destination = SchemeDictionaryDestination(
                **destination_options(prefix, target, package.name, runtime_prefix)
            )
            try:
                with zipfile.ZipFile(wheel) as archive:
                    install(WheelFile(archive), destination, {"INSTALLER": b"drawbridge\n"})
            except (InstallerError, zipfile.BadZipFile, OSError, ValueError) as error:
                raise InstallError(f"cannot install {wheel.name}: {error}") from None
