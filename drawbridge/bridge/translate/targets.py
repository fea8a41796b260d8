"""Targets (conda subdir × Python) and the wheels each one can use, best first.

Pure logic on top of packaging.tags: a target's tag list is ordered like pip's own, so
the wheel with the lowest index is the one pip would pick on that machine.
"""

from __future__ import annotations

import functools
from typing import TypedDict, Unpack
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from drawbridge.bridge.errors import UnsupportedTarget
from drawbridge.channel.platforms import (  # re-exported: `as` says so to mypy
    DEFAULT_PYTHONS as DEFAULT_PYTHONS,
    DEFAULT_SUBDIRS as DEFAULT_SUBDIRS,
    DEFAULT_MACOS as DEFAULT_MACOS,
)

#: the oldest glibc conda's linux packages may assume (manylinux_2_17 = CentOS 7)
DEFAULT_MANYLINUX = (2, 17)

_LINUX_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64"}
_LEGACY_MANYLINUX = {(2, 5): "manylinux1", (2, 12): "manylinux2010", (2, 17): "manylinux2014"}


@dataclass(frozen=True, order=True)
class Target:
    """One conda subdir and one Python version, e.g. Target("linux-64", "3.11")."""

    subdir: str
    python: str

    @property
    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python.split(".")[:2]
        return int(major), int(minor)

    @property
    def os(self) -> str:
        return self.subdir.split("-")[0]

    def __str__(self) -> str:
        return f"{self.subdir}/py{self.python}"


def targets(subdirs: Iterable[str], pythons: Iterable[str]) -> list[Target]:
    """Every subdir × Python, in a stable order."""
    return sorted(Target(s, p) for s in subdirs for p in pythons)


class PlatformOptions(TypedDict, total=False):
    """The keyword arguments `platform_tags` takes after the subdir: a target's baselines."""

    manylinux: tuple[int, int]
    macos: dict[str, tuple[int, int]] | None


def platform_tags(
    subdir: str,
    manylinux: tuple[int, int] = DEFAULT_MANYLINUX,
    macos: dict[str, tuple[int, int]] | None = None,
) -> list[str]:
    """The wheel platform tags a subdir accepts, best first."""
    if subdir in _LINUX_ARCH:
        arch = _LINUX_ARCH[subdir]
        tags = []
        for minor in range(manylinux[1], 4, -1):
            tags.append(f"manylinux_2_{minor}_{arch}")
            legacy = _LEGACY_MANYLINUX.get((2, minor))
            if legacy:
                tags.append(f"{legacy}_{arch}")
        return tags
    if subdir in ("osx-64", "osx-arm64"):
        version = (macos or DEFAULT_MACOS)[subdir]
        return list(mac_platforms(version, "x86_64" if subdir == "osx-64" else "arm64"))
    if subdir == "win-64":
        return ["win_amd64"]
    raise UnsupportedTarget(
        f"no wheel platform tags known for subdir {subdir!r}; use one of "
        f"{', '.join(DEFAULT_SUBDIRS)}"
    )


def _abis(target: Target) -> list[str]:
    major, minor = target.python_tuple
    if (major, minor) < (3, 0):  # CPython 2.7: UCS-4 on Linux and macOS, UCS-2 on Windows
        return ["cp27m"] if target.os == "win" else ["cp27mu", "cp27m"]
    if (major, minor) < (3, 8):
        return [f"cp{major}{minor}m"]
    return [f"cp{major}{minor}"]


def supported_tags(target: Target, **platform_options: Unpack[PlatformOptions]) -> list[Tag]:
    """Every tag a CPython on `target` accepts, best first (pip's order)."""
    version = target.python_tuple
    platforms = platform_tags(target.subdir, **platform_options)
    interpreter = f"cp{version[0]}{version[1]}"
    ordered = list(cpython_tags(version, abis=_abis(target), platforms=platforms))
    ordered += list(compatible_tags(version, interpreter, platforms))
    if version < (3, 0):  # compatible_tags knows py3 only; add the py2 generic tags
        ordered += [Tag(p, "none", "any") for p in ("py27", "py2")]
    return list(dict.fromkeys(ordered))  # each tag once, at its best place


@functools.lru_cache(maxsize=1 << 16)
def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags a wheel filename declares; empty for a name that is not a wheel's (memoised)."""
    try:
        return frozenset(parse_wheel_filename(filename)[3])
    except InvalidWheelFilename:
        return frozenset()


def is_pure(filename: str) -> bool:
    """True for a wheel that installs anywhere (`none` ABI, `any` platform)."""
    tags = wheel_tags(filename)
    return bool(tags) and all(t.abi == "none" and t.platform == "any" for t in tags)


def best_wheel(
    filenames: Sequence[str], target: Target, **platform_options: Unpack[PlatformOptions]
) -> str | None:
    """The wheel pip would install on `target`, or None if no wheel fits it."""
    macos = platform_options.get("macos")
    priority = _priority(
        target,
        platform_options.get("manylinux", DEFAULT_MANYLINUX),
        tuple(sorted(macos.items())) if macos is not None else None,
    )
    best: tuple[int, str] | None = None
    for filename in filenames:
        ranks = [priority[t] for t in wheel_tags(filename) if t in priority]
        if ranks and (best is None or (min(ranks), filename) < best):
            best = (min(ranks), filename)
    return best[1] if best else None


@functools.lru_cache(maxsize=256)
def _priority(
    target: Target,
    manylinux: tuple[int, int],
    macos: tuple[tuple[str, tuple[int, int]], ...] | None,
) -> dict[Tag, int]:
    """Each tag `target` accepts → its rank, best 0; memoised (a lock picks a wheel per
    project with the same options, and the ranks took 2 ms each time). Read, never changed."""
    tags = supported_tags(target, manylinux=manylinux, macos=dict(macos) if macos else None)
    return {tag: index for index, tag in enumerate(tags)}


def _tag_baseline(platform: str) -> tuple[int, int] | None:
    """The glibc or macOS version a platform tag needs: manylinux2014_x86_64 -> (2, 17)."""
    for legacy_baseline, legacy in _LEGACY_MANYLINUX.items():
        if platform.startswith(legacy + "_"):
            return legacy_baseline
    parts = platform.split("_")
    if (
        parts[0] in ("manylinux", "macosx")
        and len(parts) > 3
        and parts[1].isdigit()
        and parts[2].isdigit()
    ):
        return int(parts[1]), int(parts[2])
    return None


@functools.lru_cache(maxsize=256)
def _any_baseline_tags(target: Target) -> frozenset[Tag]:
    """Every tag `target` would accept with no glibc or macOS limit."""
    if target.os == "linux":
        return frozenset(supported_tags(target, manylinux=(2, 99)))
    return frozenset(supported_tags(target, macos={target.subdir: (99, 0)}))


def baseline_needed(filenames: Sequence[str], target: Target) -> tuple[int, int] | None:
    """The lowest glibc (Linux) or macOS (osx) baseline at which one of the wheels fits `target`.

    None when no baseline would do (no wheel for that platform, Python or ABI at all), and
    for Windows, which has no baseline.
    """
    if target.os not in ("linux", "osx"):
        return None
    accepted = _any_baseline_tags(target)
    needs = [
        baseline
        for filename in filenames
        for tag in wheel_tags(filename)
        if tag in accepted and (baseline := _tag_baseline(tag.platform)) is not None
    ]
    return min(needs) if needs else None
