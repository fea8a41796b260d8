"""Which conda packages to make of one project's wheels: noarch where one pure wheel truly
serves every target it would install on, one package per target otherwise.

A noarch package installs on every subdir and on every Python its `python` dependency
admits, so it is made only when the same pure wheel, with the same dependencies, was
chosen for every subdir of a run of consecutive configured Pythons; its `python` bound is
Requires-Python, the wheel's tags (`py2-none-any` means `python <3`) and that run of
Pythons together. Pure logic: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import Version

from drawbridge.bridge.deps import UnexpressibleRequirement, python_dependency
from drawbridge.bridge.pypi import UpstreamFile
from drawbridge.bridge.targets import Target, is_pure, wheel_tags


@dataclass(frozen=True)
class Build:
    """One conda package to make: a wheel repacked for a target (None: noarch)."""

    target: Target | None
    wheel: UpstreamFile
    depends: tuple[str, ...]
    serves: tuple[Target, ...] = ()  # the targets it was chosen for

    @property
    def version(self) -> str:
        return self.wheel.version


@dataclass(frozen=True)
class WheelChoice:
    """The wheel one target gets, its conda dependencies there and its Requires-Python."""

    wheel: UpstreamFile
    depends: tuple[str, ...]
    requires_python: str | None


def plan_builds(
    choices: Mapping[Target, WheelChoice], subdirs: Sequence[str], pythons: Sequence[str]
) -> list[Build]:
    """The packages that give every target in `choices` its wheel; `subdirs` and `pythons`
    are the run's configuration (what a noarch package must cover)."""
    builds: list[Build] = []
    by_key: dict[tuple[str, tuple[str, ...]], list[Target]] = {}
    for target, choice in sorted(choices.items()):
        by_key.setdefault((choice.wheel.filename, choice.depends), []).append(target)
    for (_filename, depends), group in by_key.items():
        choice = choices[group[0]]
        python_run = (
            _noarch_pythons(group, subdirs, pythons) if is_pure(choice.wheel.filename) else None
        )
        if python_run is not None:
            bound = noarch_python_spec(
                choice.requires_python, choice.wheel.filename, python_run, pythons
            )
            builds.append(Build(None, choice.wheel, tuple(sorted({bound, *depends})), tuple(group)))
        else:
            builds += [Build(target, choice.wheel, depends, (target,)) for target in group]
    return builds


def _noarch_pythons(
    group: Sequence[Target], subdirs: Sequence[str], pythons: Sequence[str]
) -> list[str] | None:
    """The Pythons of `group` if it covers every subdir for each of them and they are
    consecutive among the configured ones; else None (no noarch package)."""
    chosen = set(group)
    covered = sorted({t.python for t in group}, key=_python_key)
    if any(Target(subdir, python) not in chosen for python in covered for subdir in subdirs):
        return None
    ordered = sorted(pythons, key=_python_key)
    positions = [ordered.index(python) for python in covered if python in ordered]
    if len(positions) != len(covered) or positions != list(
        range(positions[0], positions[0] + len(positions))
    ):
        return None
    return covered


def noarch_python_spec(
    requires_python: str | None, wheel: str, python_run: Sequence[str], pythons: Sequence[str]
) -> str:
    """`python <constraints>` for a noarch package: Requires-Python, the wheel's tags, and
    the run of configured Pythons it was chosen for (no upper bound past the newest)."""
    parts: list[str] = []
    try:
        declared = python_dependency(requires_python)
    except UnexpressibleRequirement:
        declared = None
    if declared:
        parts.append(declared.removeprefix("python").strip())
    parts += tag_python_bounds(wheel)
    ordered = sorted(pythons, key=_python_key)
    oldest, newest = python_run[0], python_run[-1]
    parts.append(f">={oldest}")
    if newest != ordered[-1]:
        parts.append(f"<{ordered[ordered.index(newest) + 1]}")
    return "python " + ",".join(dict.fromkeys(parts))


def tag_python_bounds(wheel: str) -> list[str]:
    """What a pure wheel's tags say of the Python: `py2-none-any` → `<3`, `py3-…` → `>=3`."""
    majors = {
        tag.interpreter[2] for tag in wheel_tags(wheel) if tag.interpreter[:2] in ("py", "cp")
    }
    if majors == {"2"}:
        return ["<3"]
    if majors == {"3"}:
        return [">=3"]
    return []


def _python_key(python: str) -> Version:
    return Version(python)
