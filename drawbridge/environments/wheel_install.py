"""Install locked wheels into an environment without running its Python (images).

An image may be for another architecture than the machine building it, and its scripts
must point at where the environment lives in the image. `installer` (pip's own core)
writes the wheels with the target's layout and the image's interpreter in the script
headers; each wheel is checked against the lock's sha256 before it is opened.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

import httpx
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile

from drawbridge.bridge.repack import scheme_paths
from drawbridge.bridge.targets import Target
from drawbridge.environments.errors import InstallError
from drawbridge.environments.pip_resolve import PipPackage

DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def download_verified(package: PipPackage, folder: Path, client: httpx.Client) -> Path:
    """Fetch a locked wheel into `folder`; InstallError if it does not match the lock."""
    target = folder / package.url.rsplit("/", 1)[-1]
    digest = hashlib.sha256()
    try:
        with client.stream("GET", package.url) as response, target.open("wb") as out:
            if response.status_code != 200:
                raise InstallError(f"{package.url} answered {response.status_code}")
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except httpx.HTTPError as error:
        raise InstallError(f"cannot download {package.url}: {error}") from None
    if digest.hexdigest() != package.sha256:
        raise InstallError(
            f"{target.name} does not match the lock: sha256 {digest.hexdigest()}, the lock says {package.sha256}"
        )
    return target


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
    windows = target.os == "win"
    interpreter = f"{runtime_prefix.rstrip('/')}/{'python.exe' if windows else 'bin/python'}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with tempfile.TemporaryDirectory(prefix="drawbridge-wheels-") as scratch, httpx.Client(
        timeout=DOWNLOAD_TIMEOUT, headers=headers, follow_redirects=True
    ) as client:
        for package in packages:
            wheel = download_verified(package, Path(scratch), client)
            destination = SchemeDictionaryDestination(
                scheme_dict=scheme_paths(prefix, target, package.name),
                interpreter=interpreter,
                script_kind="win-amd64" if windows else "posix",
            )
            try:
                with zipfile.ZipFile(wheel) as archive:
                    install(WheelFile(archive), destination, {"INSTALLER": b"drawbridge\n"})
            except (InstallerError, zipfile.BadZipFile, OSError, ValueError) as error:
                raise InstallError(f"cannot install {wheel.name}: {error}") from None
