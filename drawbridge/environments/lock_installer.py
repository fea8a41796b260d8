"""Install a drawbridge.lock with nothing but Python, pip and a Drawbridge server.

This file is copied as it is, as `drawbridge-install.py`, beside the Dockerfile that
`drawbridge image --dockerfile` writes; the Dockerfile's build stage runs it. It imports
nothing of Drawbridge (which is not installed there): it installs py-rattler from the
server's pip index, installs the lock's conda packages with it (sha256-checked against the
lock), then the lock's wheels with the environment's own pip, hash-checked, no resolving.
It does what `drawbridge env create` does, in one file.

    python drawbridge-install.py LOCK PLATFORM PREFIX

$DRAWBRIDGE_URL names the server, $DRAWBRIDGE_CHANNEL the channel whose pip index holds
py-rattler, $DRAWBRIDGE_TOKEN a reader token when the server needs one.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

#: what the build stage installs from the server's pip index to read and install the lock
RATTLER_REQUIREMENT = "py-rattler>=0.28"
LOCK_ENVIRONMENT = "default"


def with_token(url: str, token: str) -> str:
    """`url` carrying `token` as basic auth (`__token__`), the way pip sends it."""
    if not token:
        return url
    parts = urlsplit(url)
    netloc = f"__token__:{quote(token, safe='')}@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


def pip(python: str, *args: str, index: str | None = None) -> None:
    """Run pip quietly, with no configuration but the arguments and `index` (given as
    PIP_INDEX_URL: a token in it stays out of the command line, which `ps` shows to every
    account); exit with its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1")
    if index is not None:
        env.update(PIP_INDEX_URL=index)
    command = [python, "-m", "pip", "install", "--no-cache-dir", "--no-input"]
    command += ["--disable-pip-version-check", "--no-warn-script-location", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"pip failed: {' '.join(command[3:])}\n{result.stdout}{result.stderr}")


def install_rattler(server: str, channel: str, token: str) -> None:
    """py-rattler from the server's pip index (unless this Python already has it)."""
    try:
        import rattler  # noqa: F401
    except ImportError:
        index = with_token(f"{server}/{channel}/simple/", token)
        pip(sys.executable, RATTLER_REQUIREMENT, index=index)
        importlib.invalidate_caches()  # site-packages gained a package since start


def install(lock_path: str, platform: str, prefix: str, token: str) -> None:
    """The lock's conda packages for `platform` into `prefix`, then its wheels."""
    import rattler

    if str(rattler.Subdir.current()) != platform:
        sys.exit(
            f"this build stage runs on {rattler.Subdir.current()}, the lock is for {platform}: "
            f"build for that platform (docker build --platform linux/"
            f"{'arm64' if platform.endswith('aarch64') else 'amd64'} …)"
        )
    environment = rattler.LockFile.from_path(Path(lock_path)).environment(LOCK_ENVIRONMENT)
    if environment is None:
        sys.exit(f"{lock_path} has no {LOCK_ENVIRONMENT!r} environment")
    locked = {str(p): p for p in environment.platforms()}
    if platform not in locked:
        sys.exit(f"{lock_path} locks {', '.join(sorted(locked))}, not {platform}")
    records = environment.conda_repodata_records_for_platform(locked[platform]) or []
    client = (
        rattler.Client.default_client(headers={"Authorization": f"Bearer {token}"})
        if token
        else None
    )
    asyncio.run(rattler.install(records, prefix, client=client, show_progress=False))
    wheels = environment.pypi_packages_for_platform(locked[platform]) or []
    if not wheels:
        return
    lines = []
    for wheel in wheels:
        digest = wheel.hashes.sha256.hex() if wheel.hashes and wheel.hashes.sha256 else ""
        if len(digest) != 64:
            sys.exit(f"{lock_path}: {wheel.name} has no sha256; lock again with `drawbridge lock`")
        lines.append(
            f"{wheel.name} @ {with_token(str(wheel.location), token)} --hash=sha256:{digest}"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write("\n".join(lines) + "\n")
    try:
        python = os.path.join(prefix, "bin", "python")
        pip(python, "--no-index", "--require-hashes", "--no-deps", "-r", requirements.name)
    finally:
        os.unlink(requirements.name)


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.exit(__doc__)
    server = os.environ.get("DRAWBRIDGE_URL", "").rstrip("/")
    token = os.environ.get("DRAWBRIDGE_TOKEN", "")
    if not server:
        sys.exit("set DRAWBRIDGE_URL to the Drawbridge server the lock came from")
    install_rattler(server, os.environ.get("DRAWBRIDGE_CHANNEL", "main"), token)
    lock_path, platform, prefix = argv
    install(lock_path, platform, prefix, token=token)


if __name__ == "__main__":
    main(sys.argv[1:])
