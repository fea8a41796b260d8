"""Which packages a project's wheels become: noarch only where one pure wheel truly serves
every target it would claim, with the Python bound and OS virtual package that keep that
true; each package claims exactly the targets it was worked out for."""

from __future__ import annotations

import pytest

from drawbridge.bridge.wheels.packages_to_make import (
    WheelChoice,
    noarch_python_spec,
    plan_builds,
    tag_python_bounds,
)
from drawbridge.bridge.installable.claims import claims
from drawbridge.bridge.upstream.pypi import UpstreamFile
from drawbridge.bridge.translate.targets import Target, targets

SUBDIRS = ["linux-64", "osx-arm64", "win-64"]
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]


def wheel(filename: str) -> UpstreamFile:
    name, version = filename.split("-")[:2]
    return UpstreamFile(name, filename, f"https://example.invalid/{filename}", version, "0" * 64)


def choose(
    filename: str,
    on: list[Target],
    depends: tuple[str, ...] = (),
    requires_python: str | None = None,
):
    return {t: WheelChoice(wheel(filename), depends, requires_python) for t in on}


ALL = targets(SUBDIRS, PYTHONS)


def kinds(builds) -> list[tuple[str, str]]:
    return sorted(("noarch" if b.target is None else str(b.target), b.version) for b in builds)


def test_one_pure_wheel_everywhere_is_one_noarch_package():
    [build] = plan_builds(
        choose("six-1.17.0-py2.py3-none-any.whl", ALL, ("dep",), ">=3.8"), SUBDIRS, PYTHONS
    )
    assert build.target is None and build.depends == ("dep", "python >=3.8,>=3.9")
    assert set(build.serves) == set(ALL)


def test_versions_split_by_python_give_two_noarch_packages_bounded_to_their_pythons():
    old = [t for t in ALL if t.python == "3.9"]
    new = [t for t in ALL if t.python != "3.9"]
    choices = {
        **choose("black-24.8.0-py3-none-any.whl", old),
        **choose("black-25.1.0-py3-none-any.whl", new),
    }
    builds = {b.version: b for b in plan_builds(choices, SUBDIRS, PYTHONS)}
    assert builds["24.8.0"].target is None and builds["24.8.0"].depends == (
        "python >=3,>=3.9,<3.10",
    )
    assert builds["25.1.0"].target is None and builds["25.1.0"].depends == ("python >=3,>=3.10",)


FOUR = ["linux-64", "linux-aarch64", "osx-arm64", "win-64"]  # Linux has two subdirs here
EVERY = targets(FOUR, PYTHONS)


def claimed(build, configured: list[Target]) -> set[Target]:
    """What the package a build makes claims among `configured`, as the installability
    check and the clients read it (its subdir, its `python` bound, its OS virtual package)."""
    if build.target is not None:
        return {build.target}
    return {t for t in configured if claims("noarch", build.depends, t)}


def shapes(builds) -> list[tuple[str, str]]:
    """Each build as (kind, python bound): kind is a target, `noarch` or `noarch __linux`."""
    found = []
    for b in builds:
        bound = next((d for d in b.depends if d.startswith("python ")), "")
        kind = str(b.target) if b.target else f"noarch {b.os_virtual}".strip()
        found.append((kind, bound))
    return sorted(found)


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (  # Linux and macOS whole, Windows got something else: noarch for Unix only
            [t for t in EVERY if t.subdir != "win-64"],
            [("noarch __unix", "python >=3,>=3.9")],
        ),
        (  # both Linux subdirs, nothing else: noarch for Linux only
            [t for t in EVERY if t.os == "linux"],
            [("noarch __linux", "python >=3,>=3.9")],
        ),
        (  # Linux and Windows but not macOS: no one virtual package says that, so two
            [t for t in EVERY if t.os != "osx"],
            [("noarch __linux", "python >=3,>=3.9"), ("noarch __win", "python >=3,>=3.9")],
        ),
        (  # 3.11 missing: two runs of Pythons, neither claims 3.11
            [t for t in EVERY if t.python != "3.11"],
            [("noarch", "python >=3,>=3.12"), ("noarch", "python >=3,>=3.9,<3.11")],
        ),
        (  # one Python, not the newest configured: bounded above by the next minor
            [t for t in EVERY if t.python == "3.11"],
            [("noarch", "python >=3,>=3.11,<3.12")],
        ),
        (  # a run for 3.9, 3.11 and 3.12: 3.10 and 3.13 were not worked out
            [t for t in EVERY if t.python in ("3.9", "3.11", "3.12")],
            [("noarch", "python >=3,>=3.11,<3.13"), ("noarch", "python >=3,>=3.9,<3.10")],
        ),
        (  # part of the Linux family only: a noarch package would claim linux-aarch64
            [Target("linux-64", p) for p in PYTHONS],
            [(f"linux-64/py{p}", "") for p in sorted(PYTHONS)],
        ),
    ],
)
def test_a_noarch_package_claims_exactly_what_was_worked_out(chosen, expected):
    """Each package claims, among the configured targets, exactly the targets it was chosen
    for: OS virtual packages for whole OS families, a Python bound for a run of Pythons,
    one package per target where neither can say it."""
    builds = plan_builds(choose("tool-1.0-py3-none-any.whl", chosen), FOUR, PYTHONS)
    assert shapes(builds) == expected
    for build in builds:
        assert claimed(build, EVERY) == set(build.serves), build
    assert sorted(t for b in builds for t in b.serves) == sorted(chosen)


def test_a_python_27_run_does_not_claim_python_3():
    """tqdm 4.64.1 is `py2.py3` with `python >=2.7`: bridged for 2.7 (its closure there has
    importlib-resources and 2.7-only backports), it claims 2.7 alone."""
    configured = ["2.7", *PYTHONS]
    chosen = [Target(s, "2.7") for s in FOUR]
    [build] = plan_builds(
        choose("tqdm-4.64.1-py2.py3-none-any.whl", chosen, ("importlib_resources",), ">=2.7"),
        FOUR,
        configured,
    )
    assert build.depends == ("importlib_resources", "python >=2.7,<2.8")
    assert claimed(build, targets(FOUR, configured)) == set(chosen)


def test_dependencies_that_differ_by_python_give_one_bounded_noarch_package_per_run():
    choices = {
        t: WheelChoice(
            wheel("tool-1.0-py3-none-any.whl"),
            ("tomli",) if t.python in ("3.9", "3.10") else (),
            None,
        )
        for t in ALL
    }
    builds = plan_builds(choices, SUBDIRS, PYTHONS)
    assert all(b.target is None for b in builds)
    assert sorted(b.depends for b in builds) == [
        ("python >=3,>=3.11",),
        ("python >=3,>=3.9,<3.11", "tomli"),
    ]


def test_dependencies_that_differ_by_os_give_one_noarch_package_per_os():
    """As conda-forge's noarch packages with `__win`/`__unix` do."""
    choices = {
        t: WheelChoice(
            wheel("tool-1.0-py3-none-any.whl"), ("pywin32",) if t.subdir == "win-64" else (), None
        )
        for t in ALL
    }
    builds = plan_builds(choices, SUBDIRS, PYTHONS)
    assert sorted(b.depends for b in builds) == [
        ("__unix", "python >=3,>=3.9"),
        ("__win", "python >=3,>=3.9", "pywin32"),
    ]
    assert all(claimed(b, ALL) == set(b.serves) for b in builds)


def test_dependencies_that_differ_within_an_os_mean_per_target_packages_there():
    choices = {
        t: WheelChoice(
            wheel("tool-1.0-py3-none-any.whl"), ("uvloop",) if t.subdir == "linux-64" else (), None
        )
        for t in EVERY
    }
    builds = plan_builds(choices, FOUR, PYTHONS)
    linux = [b for b in builds if b.serves[0].os == "linux"]
    assert all(b.target is not None for b in linux) and len(linux) == 2 * len(PYTHONS)
    assert shapes(b for b in builds if b.target is None) == [
        ("noarch __osx", "python >=3,>=3.9"),
        ("noarch __win", "python >=3,>=3.9"),
    ]
    assert all(claimed(b, EVERY) == set(b.serves) for b in builds)


def test_binary_wheels_are_per_target():
    chosen = [Target("linux-64", "3.11")]
    [build] = plan_builds(
        choose("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl", chosen), SUBDIRS, PYTHONS
    )
    assert build.target == Target("linux-64", "3.11")


@pytest.mark.parametrize(
    ("filename", "bounds"),
    [
        ("enum34-1.1.10-py2-none-any.whl", ["<3"]),
        ("black-24.8.0-py3-none-any.whl", [">=3"]),
        ("six-1.17.0-py2.py3-none-any.whl", []),
        ("futures-3.4.0-py2-none-any.whl", ["<3"]),
    ],
)
def test_tag_python_bounds(filename, bounds):
    assert tag_python_bounds(filename) == bounds


def test_a_py2_only_wheel_never_claims_python_3():
    spec = noarch_python_spec(None, "enum34-1.1.10-py2-none-any.whl", ["2.7"], ["2.7"])
    assert spec == "python <3,>=2.7"
