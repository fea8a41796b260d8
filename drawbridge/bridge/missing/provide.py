"""Conda packages the channels lack: which they are, and how each can be provided.

A Python interpreter (and what pins it, and the compilers a recipe asks for) never comes
from PyPI: only a conda mirror connected with `drawbridge upstream add` provides it. A
PyPI project can be bridged. `build`, `lock` and the approval of a bridging request all say
it the same way, from here; and, when a build's environment cannot be made, which of its
packages has no build for that Python (`unsolvable`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ruamel.yaml import YAML

from drawbridge.bridge.missing.solver_messages import condense

#: the command that connects a conda mirror
CONNECT_MIRROR = "drawbridge upstream add NAME URL|FOLDER"
#: conda packages that come with a conda distribution, never from PyPI
MIRROR_ONLY = frozenset(
    {"python", "python_abi", "pypy", "libpython-static", "python-freethreading"}
)
#: what `${{ compiler('c') }}` and friends ask for on linux-64
COMPILERS = {"c": "gcc", "cxx": "gxx", "fortran": "gfortran", "rust": "rust", "go": "go"}
_COMPILER = re.compile(r"\$\{\{\s*compiler\(\s*['\"](\w+)['\"]\s*\)\s*\}\}")
_MIRROR_PATTERNS = (re.compile(r"^pypy\d"), re.compile(r"^(gcc|gxx|gfortran|clang)_\w+-\w+$"))


def comes_from_a_mirror(conda_name: str) -> bool:
    """Whether only a conda mirror can provide `conda_name` (an interpreter, a compiler)."""
    return conda_name in MIRROR_ONLY or any(p.match(conda_name) for p in _MIRROR_PATTERNS)


def mirror_hint(names: Sequence[str]) -> str:
    """What to do about packages only a conda mirror provides."""
    them = "it" if len(names) == 1 else "them"
    comes = "comes" if len(names) == 1 else "come"
    return (
        f"{', '.join(names)} {comes} from a conda mirror, never from PyPI: connect one that "
        f"has {them} on the Drawbridge server with `{CONNECT_MIRROR}`"
    )


def how_to_provide(names: Sequence[str], python_missing: bool = False) -> list[str]:
    """One sentence per kind of missing package: a mirror for interpreters and compilers
    (and for pip, setuptools, wheel when python itself is missing), bridging for the rest."""
    from_mirror = [
        n
        for n in names
        if comes_from_a_mirror(n) or (python_missing and n in ("pip", "setuptools", "wheel"))
    ]
    bridgeable = [n for n in names if n not in from_mirror]
    said = [mirror_hint(from_mirror)] if from_mirror else []
    if bridgeable:
        said.append(
            f"bridge {'it' if len(bridgeable) == 1 else 'them'} from PyPI with `drawbridge "
            f"bridge {' '.join(bridgeable)}`, or connect a conda mirror that has "
            f"{'it' if len(bridgeable) == 1 else 'them'} (`{CONNECT_MIRROR}`)"
        )
    return said


def recipe_requirements(recipe_text: str, subdir: str = "linux-64") -> list[str]:
    """The package names a rattler-build recipe needs in its build, host and run
    environments (selectors' branches included; compilers as the packages they mean)."""
    document = YAML(typ="safe").load(recipe_text) or {}
    requirements = document.get("requirements") or {}
    names: dict[str, None] = {}
    for section in ("build", "host", "run"):
        for item in _flatten(requirements.get(section) or []):
            name = _requirement_name(item, subdir)
            if name and not name.startswith("__"):  # virtual packages: the machine's
                names[name] = None
    return list(names)


def _flatten(items: Iterable[Any]) -> Iterable[str]:
    for item in items:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):  # `if: … then: … else: …`
            for branch in ("then", "else"):
                value = item.get(branch) or []
                yield from _flatten(value if isinstance(value, list) else [value])


def _requirement_name(item: str, subdir: str) -> str | None:
    compiler = _COMPILER.search(item)
    if compiler:
        package = COMPILERS.get(compiler.group(1), compiler.group(1))
        return f"{package}_{subdir}" if package in ("gcc", "gxx", "gfortran") else package
    if "${{" in item.split()[0]:
        return None
    return item.split()[0].lower()


def missing_from(
    channels: Sequence[str], names: Sequence[str], subdirs: Sequence[str]
) -> list[str]:
    """The names of `names` that no channel of `channels` has in `subdirs` (or noarch)."""
    import rattler

    if not names:
        return []
    present: set[str] = set()
    if channels:
        gateway = rattler.Gateway(show_progress=False)
        found = asyncio.run(
            gateway.names(
                [rattler.Channel(c) for c in channels],
                [rattler.Subdir(s) for s in sorted({*subdirs, "noarch"})],
            )
        )
        present = {name.normalized for name in found}
    return [name for name in names if name not in present]


def unsolvable(
    channels: Sequence[str],
    specs: Sequence[str],
    subdir: str,
    virtual_packages: Sequence[tuple[str, str, str]],
) -> list[str]:
    """Why the environment of `specs` cannot be made from `channels` on `subdir` (with
    `virtual_packages` as (name, version, build)): each spec that does not install beside
    the environment's Python alone, in words ("setuptools >=77 has no build for python 3.9
    in any channel (…)"); the whole solve's reason if none fails alone; [] if it solves."""
    import rattler
    from rattler.exceptions import SolverError

    pythons = [spec for spec in specs if spec.split()[0] == "python"]
    pinned = re.match(r"python\s+(\d+\.\d+)(?:\.\*)?$", pythons[0]) if pythons else None
    python = pinned.group(1) if pinned else ""  # "python 3.9.*": one Python
    virtual = [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )
        for name, version, build in virtual_packages
    ]
    offered = {name: version for name, version, _build in virtual_packages}
    gateway = rattler.Gateway(show_progress=False)

    async def solve(wanted: list[str]) -> str | None:
        try:
            await rattler.solve(
                list(channels),
                wanted,
                gateway=gateway,
                platforms=[rattler.Subdir(subdir), "noarch"],
                virtual_packages=virtual,
            )
        except SolverError as error:
            return str(error)
        return None

    def said(spec: str, message: str) -> str:
        reason = condense(message, python, subdir, offered)
        if python and reason.missing[:1] in (("python",), ("python_abi",)):
            return f"{spec} has no build for python {python} in any channel ({reason.text})"
        return reason.text

    async def explain() -> list[str]:
        found = []
        for spec in specs:
            message = None if spec in pythons else await solve([*pythons, spec])
            if message:
                found.append(said(spec, message))
        if not found:
            message = await solve(list(specs))
            found += [condense(message, python, subdir, offered).text] if message else []
        return found

    return asyncio.run(explain())
