"""Which conda packages to make of one project's wheels: noarch where one pure wheel truly
serves every target the package would claim, one package per target otherwise.

A noarch package claims every subdir, or with an OS virtual package among its depends
(`__linux`, `__osx`, `__win`, `__unix` for Linux and macOS, as conda-forge's noarch
packages do) every subdir of that OS, and every Python its `python` dependency admits.
So it is made only where the same pure wheel, with the same dependencies, was chosen for
every configured subdir of whole OS families, for a run of consecutive configured
Pythons ("configured": the home's `[bridge]` platforms and Pythons and the run's). Its
`python` bound is Requires-Python, the wheel's tags (`py2-none-any` means `python <3`) and
exactly that run: `>=` the oldest, `<` the minor after the newest unless the newest is the
newest configured Python. Everything else is one package per target. Pure logic: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import Version

from drawbridge.bridge.translate.deps import UnexpressibleRequirement, python_dependency
from drawbridge.bridge.upstream.pypi import UpstreamFile
from drawbridge.bridge.translate.targets import Target, is_pure, wheel_tags

#: the virtual package that limits a noarch package to one OS family
OS_VIRTUALS = {"linux": "__linux", "osx": "__osx", "win": "__win"}
#: Linux and macOS together: conda's `__unix`
UNIX = frozenset({"linux", "osx"})


@dataclass(frozen=True)
class Build:
    """One conda package to make: a wheel repacked for a target (None: noarch)."""

    target: Target | None
    wheel: UpstreamFile
    depends: tuple[str, ...]
    serves: tuple[Target, ...] = ()  # the targets it was chosen for
    os_virtual: str = ""  # for a noarch package limited to some OS: `__linux`, `__unix`, …

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
    are the configured ones (the home's and the run's): what a noarch package claims."""
    builds: list[Build] = []
    by_key: dict[tuple[str, tuple[str, ...]], list[Target]] = {}
    for target, choice in sorted(choices.items()):
        by_key.setdefault((choice.wheel.filename, choice.depends), []).append(target)
    for (filename, depends), group in by_key.items():
        choice = choices[group[0]]
        covered: set[Target] = set()
        runs = noarch_runs(group, subdirs, pythons) if is_pure(filename) else []
        for families, python_run in runs:
            bound = noarch_python_spec(choice.requires_python, filename, python_run, pythons)
            for virtual, claimed in os_claims(families, {_os(s) for s in subdirs}):
                serves = tuple(t for t in group if t.python in python_run and t.os in claimed)
                extra = {bound, virtual} if virtual else {bound}
                builds.append(
                    Build(None, choice.wheel, tuple(sorted({*extra, *depends})), serves, virtual)
                )
                covered.update(serves)
        builds += [Build(t, choice.wheel, depends, (t,)) for t in group if t not in covered]
    return builds


def noarch_runs(
    group: Sequence[Target], subdirs: Sequence[str], pythons: Sequence[str]
) -> list[tuple[frozenset[str], tuple[str, ...]]]:
    """The (OS families, run of Pythons) a noarch package of `group` may claim: for each OS
    family, the Pythons for which `group` holds every configured subdir of that family, cut
    into runs consecutive among the configured Pythons; families with the same run share it."""
    chosen = set(group)
    ordered = sorted(set(pythons), key=Version)
    families: dict[tuple[str, ...], set[str]] = {}
    for family in sorted({t.os for t in group}):
        family_subdirs = [s for s in subdirs if _os(s) == family]
        whole = [p for p in ordered if all(Target(s, p) in chosen for s in family_subdirs)]
        for run in _consecutive(whole, ordered):
            families.setdefault(run, set()).add(family)
    return [(frozenset(found), run) for run, found in families.items()]


def os_claims(families: frozenset[str], configured: set[str]) -> list[tuple[str, frozenset[str]]]:
    """The noarch packages that claim exactly `families` of the `configured` OS families:
    (its OS virtual package, "" for none; the families it claims)."""
    if families >= configured:
        return [("", families)]
    if families == UNIX:
        return [("__unix", UNIX)]
    return [(OS_VIRTUALS[family], frozenset({family})) for family in sorted(families)]


def _consecutive(chosen: Sequence[str], ordered: Sequence[str]) -> list[tuple[str, ...]]:
    """`chosen` (in `ordered`'s order) cut where a Python of `ordered` is missing."""
    runs: list[list[str]] = []
    for python in chosen:
        if runs and ordered.index(python) == ordered.index(runs[-1][-1]) + 1:
            runs[-1].append(python)
        else:
            runs.append([python])
    return [tuple(run) for run in runs]


def noarch_python_spec(
    requires_python: str | None, wheel: str, python_run: Sequence[str], pythons: Sequence[str]
) -> str:
    """`python <constraints>` for a noarch package: Requires-Python, the wheel's tags, and
    the run of configured Pythons it was chosen for (`<` the next minor after its newest,
    no upper bound when that is the newest configured Python)."""
    parts: list[str] = []
    try:
        declared = python_dependency(requires_python)
    except UnexpressibleRequirement:
        declared = None
    if declared:
        parts.append(declared.removeprefix("python").strip())
    parts += tag_python_bounds(wheel)
    newest_configured = max(pythons, key=Version)
    oldest, newest = python_run[0], python_run[-1]
    parts.append(f">={oldest}")
    if Version(newest) < Version(newest_configured):
        major, minor = Version(newest).release[:2]
        parts.append(f"<{major}.{minor + 1}")
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


def _os(subdir: str) -> str:
    return subdir.split("-")[0]
