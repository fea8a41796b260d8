"""What the environment commands' options default to, and the check of the baseline ones
(the CLI's and the server's locks share it), importable without rattler or httpx.

The CLI reads these when it declares its options, before `drawbridge lock` starts the
uv runs it guesses (uv_run.py); the modules that use them import them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drawbridge.channel.platforms import (
    DEFAULT_MACOS,
    OLDEST_MACOS,
    macos_baseline,
    macos_baselines,
    macos_text,
)

DEFAULT_SERVER = "http://127.0.0.1:8080"
#: the environment variable naming the server (the --server option reads it)
SERVER_VARIABLE = "DRAWBRIDGE_URL"
#: the environment variable holding the reader token (the --token option reads it)
TOKEN_VARIABLE = "DRAWBRIDGE_TOKEN"
#: where `drawbridge image` puts the environment inside the image
DEFAULT_PREFIX_IN_IMAGE = "/opt/env"


def server_url(given: str | None) -> str:
    """The server: the option (or $DRAWBRIDGE_URL, which it reads), else the local default."""
    return (given or DEFAULT_SERVER).rstrip("/")


@dataclass(frozen=True)
class SystemBaseline:
    """What the target machines have outside the environment (conda's virtual packages)."""

    glibc: str = "2.17"
    macos_x86: str = macos_text(DEFAULT_MACOS["osx-64"])
    macos_arm: str = macos_text(DEFAULT_MACOS["osx-arm64"])

    def macos(self) -> dict[str, tuple[int, int]]:
        """The macOS of each Mac subdir as (major, minor), for wheel tags and uv."""
        return macos_baselines({"osx-64": self.macos_x86, "osx-arm64": self.macos_arm})

    def problem(self) -> tuple[str, str] | None:
        """(the option, what is wrong with it) for a value the machines cannot have."""
        if not re.fullmatch(r"2\.(1[7-9]|[23][0-9]|40)", self.glibc):
            return "--glibc", f"{self.glibc!r}: give a glibc version from 2.17 to 2.40"
        for subdir, given, flag in (
            ("osx-64", self.macos_x86, "--macos-intel"),
            ("osx-arm64", self.macos_arm, "--macos-arm"),
        ):
            if macos_baseline(subdir, given) is None:
                oldest = OLDEST_MACOS[subdir]
                return (
                    flag,
                    f"{given!r}: give a macOS version from {oldest[0]}.{oldest[1]} on, like 12.0",
                )
        return None
