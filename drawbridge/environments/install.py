"""`drawbridge env create`: install a locked platform with rattler, then pip, from Drawbridge only.

The conda part goes through `rattler.install` (sha256-checked against the lock); the pip
part through uv aimed at the environment's Python (the environment's own pip where uv
cannot go: Python before 3.6), with hashes required, no index and no dependencies, so
nothing is resolved again and nothing comes from anywhere but the lock's URLs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

import rattler
from packaging.version import Version

from drawbridge.bridge.resolve.uv_process import KEPT_UV_VARIABLES, uv_binary
from drawbridge.environments.auth import rattler_client, url_with_token
from drawbridge.environments.errors import InstallError
from drawbridge.environments.lockfile import PlatformLock
from drawbridge.environments.pip_resolve import OLDEST_UV_PYTHON


def host_platform() -> str:
    return str(rattler.Subdir.current())


def prefix_python(prefix: Path, platform: str) -> Path:
    return prefix / "python.exe" if platform.startswith("win-") else prefix / "bin" / "python"


def pip_requirements(lock: PlatformLock, token: str | None = None, named: bool = True) -> str:
    """The pip part as a hash-pinned requirements file (direct URLs, so --no-index works).

    `named=False` leaves out the `name @` of each line: the pip of a Python 2.7
    environment takes `name @ URL` for a file name; the wheel's file name names it anyway.
    """
    return "".join(
        f"{f'{p.name} @ ' if named else ''}{url_with_token(p.url, token)}"
        f" --hash=sha256:{p.sha256}\n"
        for p in lock.pip
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
                platform=rattler.Subdir(lock.platform),
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
    """Install the lock's wheels into `prefix`: uv, or the environment's pip before Python 3.6."""
    python = prefix_python(prefix, lock.platform)
    if not python.exists():
        raise InstallError(
            f"the lock installs pip packages but its conda part has no Python ({python} is missing)"
        )
    tool = pip_installer(lock)
    with tempfile.TemporaryDirectory(prefix="drawbridge-env-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(pip_requirements(lock, token, named=tool == "uv"), "utf-8")
        requirements.chmod(0o600)
        if tool == "uv":
            command, environment = _uv_command(python, requirements), _uv_environment()
        else:
            command, environment = _pip_command(python, requirements), _pip_environment()
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        output = result.stdout[-2000:] + result.stderr[-4000:]
        output = output.replace(token, "****") if token else output
        if tool == "uv" and "Hash mismatch" in output:
            raise InstallError(
                "a pip package does not match the sha256 the lock records (the lock was edited, "
                "or the server now serves another file at that URL), so none of the pip part was "
                f"installed: check the lock, or lock again with `drawbridge lock`\n{output}"
            )
        raise InstallError(f"{tool} could not install the lock's pip packages:\n{output}")


def pip_installer(lock: PlatformLock) -> Literal["uv", "pip"]:
    """uv, unless the lock's Python is older than uv can install into (then its own pip)."""
    for record in lock.conda:
        if record.name.normalized == "python":
            return "uv" if Version(str(record.version)) >= OLDEST_UV_PYTHON else "pip"
    return "uv"


def _uv_command(python: Path, requirements: Path) -> list[str]:
    """uv installing exactly the requirements file's wheels into `python`'s environment,
    compiling bytecode as pip does."""
    return [
        uv_binary(),
        "pip",
        "install",
        "--python",
        str(python),
        "--no-config",
        "--no-cache",
        "--no-index",
        "--require-hashes",
        "--no-deps",
        "--no-build",
        "--compile-bytecode",
        "--quiet",
        "-r",
        str(requirements),
    ]


def _pip_command(python: Path, requirements: Path) -> list[str]:
    return [
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


def _uv_environment() -> dict[str, str]:
    """uv with no user configuration or interpreter downloads: only the lock's URLs count
    (the caller's TLS and network settings for uv stay, as for lock's uv)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "PIP_", "PYTHON")) or k in KEPT_UV_VARIABLES
    }
    env.update(UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never", PYTHONNOUSERSITE="1")
    return env


def _pip_environment() -> dict[str, str]:
    """pip with no user or site configuration: only the lock's URLs count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    if sys.platform != "win32":
        env.setdefault("LC_ALL", "C.UTF-8")
    return env
