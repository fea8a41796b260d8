"""Which packages a project's wheels become: noarch only where one pure wheel truly serves
every target it would install on, with the Python bound that keeps that true."""

from __future__ import annotations

import pytest

from drawbridge.bridge.builds import WheelChoice, noarch_python_spec, plan_builds, tag_python_bounds
from drawbridge.bridge.pypi import UpstreamFile
from drawbridge.bridge.targets import Target, targets

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


@pytest.mark.parametrize(
    ("chosen", "why"),
    [
        (
            [t for t in ALL if t.subdir != "win-64"],
            "win-64 got something else: a noarch package would claim it",
        ),
        ([t for t in ALL if t.python != "3.11"], "3.11 is missing from the run of Pythons"),
        ([Target("win-64", p) for p in PYTHONS], "chosen for one subdir only"),
    ],
)
def test_a_pure_wheel_that_does_not_cover_its_claim_is_packaged_per_target(chosen, why):
    builds = plan_builds(choose("winonly-1.0-py3-none-any.whl", chosen), SUBDIRS, PYTHONS)
    assert all(b.target is not None for b in builds), why
    assert len(builds) == len(chosen)


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


def test_dependencies_that_differ_by_platform_mean_per_target_packages():
    choices = {
        t: WheelChoice(
            wheel("tool-1.0-py3-none-any.whl"), ("pywin32",) if t.subdir == "win-64" else (), None
        )
        for t in ALL
    }
    builds = plan_builds(choices, SUBDIRS, PYTHONS)
    assert all(b.target is not None for b in builds) and len(builds) == len(ALL)


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
    spec = noarch_python_spec(None, "enum34-1.1.10-py2-none-any.whl", ["2.7"], ["2.7", "3.11"])
    assert spec == "python <3,>=2.7,<3.11"
