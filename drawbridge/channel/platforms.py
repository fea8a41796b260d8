"""The conda subdirs and Pythons Drawbridge serves out of the box: the one place they live.

Every channel has these subdirs (plus `noarch`) from birth; `drawbridge bridge` builds
for them, and `drawbridge lock` locks for them, unless drawbridge.toml says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_SUBDIRS = ("linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")
DEFAULT_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
#: the oldest macOS of each Mac subdir, as conda-forge builds for: its packages may need no
#: newer (`[bridge] macos_baseline` raises it)
DEFAULT_MACOS = {"osx-64": (10, 13), "osx-arm64": (11, 0)}
#: the oldest a site may set: Intel wheels start at 10.9, Apple silicon at 11.0
OLDEST_MACOS = {"osx-64": (10, 9), "osx-arm64": (11, 0)}


def macos_version(text: str) -> tuple[int, int] | None:
    """`"12.0"` (or `"12"`) as (12, 0); None if it is not a macOS version."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 2 or not all(part.isdigit() for part in parts):
        return None
    major, minor = int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
    return (major, minor) if 10 <= major <= 99 and minor <= 99 else None


def macos_baseline(subdir: str, text: str) -> tuple[int, int] | None:
    """`text` as the oldest macOS of Mac subdir `subdir` ("12.0" → (12, 0)); None unless it
    is a macOS version that subdir can have (`OLDEST_MACOS` on)."""
    version = macos_version(text)
    return version if version is not None and version >= OLDEST_MACOS[subdir] else None


def macos_baselines(texts: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Each Mac subdir's oldest macOS: `texts` (subdir → "12.0") over `DEFAULT_MACOS`; an
    entry `macos_baseline` refuses keeps the default (its callers have said why already)."""
    given = {subdir: macos_baseline(subdir, text) for subdir, text in texts.items()}
    return {**DEFAULT_MACOS, **{s: v for s, v in given.items() if v is not None}}


def toml_list(values: tuple[str, ...]) -> str:
    """`values` as a TOML array, for the default configuration file's text."""
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def macos_text(version: tuple[int, int]) -> str:
    """(10, 13) as "10.13": how drawbridge.toml writes a macOS version."""
    return "{}.{}".format(*version)


def toml_inline_table(values: dict[str, str]) -> str:
    """`values` as a TOML inline table of strings, for the default configuration's text."""
    return "{ " + ", ".join(f'{key} = "{value}"' for key, value in values.items()) + " }"
