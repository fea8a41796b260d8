"""The conda subdirs and Pythons Drawbridge serves out of the box: the one place they live.

Every channel has these subdirs (plus `noarch`) from birth; `drawbridge bridge` builds
for them, and `drawbridge lock` locks for them, unless drawbridge.toml says otherwise.
"""

from __future__ import annotations

DEFAULT_SUBDIRS = ("linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")
DEFAULT_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def toml_list(values: tuple[str, ...]) -> str:
    """`values` as a TOML array, for the default configuration file's text."""
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"
