"""Where a build may read, write and connect, on Linux: bubblewrap command lines.

The whole rattler-build process runs under `bwrap` (`outer`), in a filesystem made of what
a build needs and nothing else: the system's folders (/usr, /etc, /lib…), Python's own
installation and the local channels, read-only; the job's work folder and rattler's
package cache, writable; an empty /tmp. Homes, the server's home, the token file and
anything else on the machine do not exist for it (the paths given to `hide` are made empty
even inside what it sees). With no network at all when every channel is a local folder.
The recipe's build script (the untrusted setup.py) runs under a second, nested `bwrap --unshare-net`
(`script_prefix`), so it can open no socket outside itself even where rattler-build itself
needs the network to fetch the build environment from the server. The recipe's tests (the
built package imported) run in the outer sandbox only.

macOS and Windows have no bubblewrap: `available` is False and builds run unconfined; run
such agents as a dedicated user or in a VM (docs/recipes.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit


@cache
def bwrap() -> str | None:
    """The bubblewrap executable, if this is Linux, it is installed and it can make a
    sandbox here (a container may forbid the namespaces it needs)."""
    found = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    if not found:
        return None
    trial = subprocess.run(
        [found, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "--", "true"],
        capture_output=True,
        timeout=30,
    )
    return found if trial.returncode == 0 else None


def rattler_cache() -> Path:
    """Where rattler keeps its packages (`RATTLER_CACHE_DIR`, else the user's cache)."""
    if os.environ.get("RATTLER_CACHE_DIR"):
        return Path(os.environ["RATTLER_CACHE_DIR"])
    return Path.home() / ".cache" / "rattler" / "cache"


def local_folders(channels: Sequence[str]) -> list[Path]:
    """The folders of the `file://` channels (and plain paths) among `channels`."""
    found = []
    for channel in channels:
        parts = urlsplit(channel)
        if parts.scheme == "file":
            found.append(Path(unquote(parts.path)))
        elif not parts.scheme:
            found.append(Path(channel))
    return found


#: the system's folders a build reads (compilers, shells, certificates), where they exist
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)


def outer(
    work: Path, channels: Sequence[str], hide: Sequence[Path] = (), network: bool = True
) -> list[str]:
    """The command prefix rattler-build runs under: it sees the system's folders, Python's
    own installation and the local `channels`, read-only, and writes only to `work` and the
    package cache; nothing else of the machine exists for it (homes, /tmp, /srv, the
    server's home), and `hide` is an empty folder even inside what it sees; no network
    unless `network`."""
    tool = bwrap()
    assert tool is not None
    cache = rattler_cache()
    cache.mkdir(parents=True, exist_ok=True)
    seen = [Path(p) for p in SYSTEM if Path(p).exists()]
    python = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent]
    readable = [
        *seen,
        *(p.resolve() for p in python),
        *(p.resolve() for p in local_folders(channels)),
    ]
    command = [tool, "--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in dict.fromkeys(readable):
        if path.exists():
            command += ["--ro-bind", str(path), str(path)]
    for path in (work.resolve(), cache.resolve()):
        command += ["--bind", str(path), str(path)]
    for path in (p.resolve() for p in hide):
        if path.is_dir() and _inside(path, readable):
            command += ["--tmpfs", str(path)]
            # what the build needs from inside a hidden folder (a local channel in the
            # server's home, the work folder) is put back
            for needed in [*readable, work.resolve(), cache.resolve()]:
                if needed.is_relative_to(path) and needed != path:
                    kind = "--bind" if needed in (work.resolve(), cache.resolve()) else "--ro-bind"
                    command += [kind, str(needed), str(needed)]
    command += ["--setenv", "HOME", str(work.resolve()), "--setenv", "TMPDIR", str(work.resolve())]
    command += [
        "--setenv",
        "RATTLER_CACHE_DIR",
        str(cache.resolve()),
        "--chdir",
        str(work.resolve()),
    ]
    if not network:
        command.append("--unshare-net")
    return [*command, "--"]


def script_prefix() -> list[str]:
    """The command prefix of the recipe's build script inside the outer sandbox: the same
    view of the files, and no network."""
    tool = bwrap()
    assert tool is not None
    return [tool, "--die-with-parent", "--dev-bind", "/", "/", "--unshare-net", "--"]
