"""Where a wheel's schemes land in a conda prefix laid out for one target, for installer.

Pure and light (no rattler-build): the bridge's repack and the environments' image writer
both install wheels with installer through these settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drawbridge.bridge.translate.targets import Target


def scheme_paths(root: Path, target: Target | None, distribution: str) -> dict[str, str]:
    """Where each wheel scheme lands inside the package for `target` (None: noarch)."""
    if target is None:
        site, scripts, headers = (
            root / "site-packages",
            root / "python-scripts",
            root / "include" / distribution,
        )
    elif target.os == "win":
        site, scripts, headers = (
            root / "Lib" / "site-packages",
            root / "Scripts",
            root / "Include" / distribution,
        )
    else:
        python = f"python{target.python}"
        site, scripts, headers = (
            root / "lib" / python / "site-packages",
            root / "bin",
            root / "include" / python / distribution,
        )
    return {
        "purelib": str(site),
        "platlib": str(site),
        "scripts": str(scripts),
        "data": str(root),
        "headers": str(headers),
    }


def destination_options(
    root: Path, target: Target | None, distribution: str, runtime_prefix: str | None = None
) -> dict[str, Any]:
    """installer's `SchemeDictionaryDestination` arguments for a wheel installed under
    `root` laid out for `target`; scripts name the Python of `runtime_prefix` (default:
    `root`), the place the environment will live when it runs."""
    windows = target is not None and target.os == "win"
    prefix = (runtime_prefix or str(root)).rstrip("/")
    return {
        "scheme_dict": scheme_paths(root, target, distribution),
        "interpreter": f"{prefix}/python.exe" if windows else f"{prefix}/bin/python",
        "script_kind": "win-amd64" if windows else "posix",
    }
