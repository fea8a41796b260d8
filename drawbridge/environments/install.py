"""`drawbridge env create`: install a locked platform with rattler, then pip, from Drawbridge only.

The conda part goes through `rattler.install` (sha256-checked against the lock); the pip
part through the environment's own pip with `--require-hashes --no-index --no-deps`, so
nothing is resolved again and nothing comes from anywhere but the lock's URLs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import rattler

from drawbridge.environments.auth import rattler_client, url_with_token
from drawbridge.environments.errors import InstallError
from drawbridge.environments.lockfile import PlatformLock


def host_platform() -> str:
    return str(rattler.Platform.current())


def prefix_python(prefix: Path, platform: str) -> Path:
    return prefix / "python.exe" if platform.startswith("win-") else prefix / "bin" / "python"


def pip_requirements(lock: PlatformLock, token: str | None = None) -> str:
    """The pip part as a hash-pinned requirements file (direct URLs, so --no-index works)."""
    return "".join(
        f"{p.name} @ {url_with_token(p.url, token)} --hash=sha256:{p.sha256}\n" for p in lock.pip
    )


def create_environment(
    lock: PlatformLock,
    prefix: Path,
    cache_dir: Path | None = None,
    show_progress: bool = True,
    target_prefix: str | None = None,
    token: str | None = None,
) -> None:
    """Make `prefix` hold exactly what `lock` names; running it again changes nothing.

    `target_prefix` is where the environment will live at run time when that is not
    `prefix` (an image): conda packages get it patched in instead of `prefix`.
    """
    if lock.platform != host_platform() and lock.pip:
        raise InstallError(
            f"the lock's {lock.platform} part has pip packages, which need the environment's "
            f"own Python to install: run this on a {lock.platform} machine (this is "
            f"{host_platform()})"
        )
    prefix = prefix.absolute()
    try:
        asyncio.run(
            rattler.install(
                lock.conda,
                prefix,
                cache_dir=cache_dir,
                platform=rattler.Platform(lock.platform),
                show_progress=show_progress,
                alternative_target_prefix=target_prefix,
                client=rattler_client(token),
            )
        )
    except Exception as error:  # rattler's download, checksum and link errors
        raise InstallError(f"installing the conda packages into {prefix} failed: {error}") from None
    if lock.pip:
        install_pip_part(lock, prefix, token)


def install_pip_part(lock: PlatformLock, prefix: Path, token: str | None = None) -> None:
    python = prefix_python(prefix, lock.platform)
    if not python.exists():
        raise InstallError(
            f"the lock installs pip packages but its conda part has no Python ({python} is missing)"
        )
    with tempfile.TemporaryDirectory(prefix="drawbridge-env-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(pip_requirements(lock, token), "utf-8")
        requirements.chmod(0o600)
        command = [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--require-hashes",
            "--no-deps",
            "--no-cache-dir",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "-r",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=_pip_environment())
    if result.returncode != 0:
        output = result.stdout[-2000:] + result.stderr[-4000:]
        raise InstallError(
            "pip could not install the lock's pip "
            f"packages:\n{output.replace(token, '****') if token else output}"
        )


def _pip_environment() -> dict[str, str]:
    """pip with no user or site configuration: only the lock's URLs count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    if sys.platform != "win32":
        env.setdefault("LC_ALL", "C.UTF-8")
    return env
