"""The installability check: real py-rattler solves against the test upstream channel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_noarch_python_tar_bz2, make_target_tar_bz2

from drawbridge.bridge.installable.check import (
    Baseline,
    InstallabilityError,
    Report,
    check_channel,
    check_installable,
)
from drawbridge.bridge.translate.targets import Target
from drawbridge.channel.service import Channels

NEW = f"{sys.version_info.major}.{sys.version_info.minor}"  # the test upstream's Python 3
OLD = "2.7"


@pytest.fixture
def upstream(upstream_channel: Path) -> Path:
    """The test upstream, which must hold Python 2.7 for these tests' older target."""
    if not list((upstream_channel / "linux-64").glob("python-2.7.*")):
        pytest.skip("no pyenv Python 2.7 in the test upstream")
    return upstream_channel


def linux(*pythons: str) -> list[Target]:
    return [Target("linux-64", python) for python in pythons]


def verdicts(report: Report) -> dict[tuple[str, str], tuple[bool, str]]:
    """(package name, "subdir/pyX.Y") → (ok, reason), for readable assertions."""
    return {(v.package.name, str(v.target)): (v.ok, v.reason) for v in report.verdicts}


def names(packages) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.name for p in packages}


def test_broken_closure_is_refused_with_the_missing_piece_and_the_fixed_point(
    tmp_path: Path, upstream: Path, channels: Channels
) -> None:
    """`lib` exists only for the newer Python: `app` (noarch, needs lib) is refused on the
    older target, so not published at all; `top` (Python 3 only, needs app) installs with
    app in the first round and is refused in the second, once app is left out."""
    new = tmp_path / "new"
    files = [
        make_target_tar_bz2(new, "lib", "1.0", NEW),
        make_noarch_python_tar_bz2(new, "app", "2.0", python=">=2.7", depends=["lib >=1.0"]),
        make_noarch_python_tar_bz2(new, "top", "3.0", python=">=3", depends=["app"]),
        make_noarch_python_tar_bz2(new, "also", "1.0", python=">=2.7", depends=["app"]),
        make_noarch_python_tar_bz2(new, "good", "1.0", python=">=2.7", depends=["pip"]),
    ]
    report = check_installable(files, [channels.conda_dir("main"), upstream], linux(OLD, NEW))

    found = verdicts(report)
    assert found[("app", f"linux-64/py{OLD}")] == (
        False,
        f"nothing provides lib >=1.0 for python {OLD}",
    )
    assert found[("app", f"linux-64/py{NEW}")] == (True, "")
    assert found[("also", f"linux-64/py{OLD}")] == (
        False,
        f"nothing provides lib >=1.0 for python {OLD} (needed by app 2.0)",
    )
    assert ("top", f"linux-64/py{OLD}") not in found
    refused_app = f"app 2.0 is refused: nothing provides lib >=1.0 for python {OLD}"
    assert found[("top", f"linux-64/py{NEW}")] == (False, f"nothing provides app ({refused_app})")
    assert found[("lib", f"linux-64/py{NEW}")] == (True, "")
    assert ("lib", f"linux-64/py{OLD}") not in found
    assert (
        found[("good", f"linux-64/py{OLD}")] == found[("good", f"linux-64/py{NEW}")] == (True, "")
    )
    assert names(report.refused) == {"app", "top", "also"}
    assert names(report.accepted) == {"lib", "good"}
    assert {Path(p.location) for p in report.refused} == {files[1], files[2], files[3]}
    app_failure = next(v for v in report.failures if v.package.name == "app")
    assert (
        str(app_failure)
        == f"app 2.0 (linux-64, py{OLD}): nothing provides lib >=1.0 for python {OLD}"
    )
    assert "cannot be installed" in app_failure.detail  # rattler's own words, kept


def test_a_good_closure_passes_with_one_solve_per_target(
    tmp_path: Path, upstream: Path, channels: Channels
) -> None:
    """New packages solve with each other: per-target `core` for both Pythons, noarch
    `tool` needing it and upstream's pip; one solve per target is all it takes."""
    new = tmp_path / "new"
    files = [
        make_target_tar_bz2(new, "core", "1.0", OLD),
        make_target_tar_bz2(new, "core", "1.0", NEW),
        make_noarch_python_tar_bz2(new, "tool", "1.0", python=">=2.7", depends=["core >=1", "pip"]),
    ]
    report = check_installable(files, [channels.conda_dir("main"), upstream], linux(OLD, NEW))

    assert report.failures == ()
    assert sorted(verdicts(report)) == [
        ("core", f"linux-64/py{OLD}"),
        ("core", f"linux-64/py{NEW}"),
        ("tool", f"linux-64/py{OLD}"),
        ("tool", f"linux-64/py{NEW}"),
    ]
    assert report.solves == 2


def test_a_dependency_already_in_the_channel_counts(
    tmp_path: Path, upstream: Path, channels: Channels
) -> None:
    """`core` for the older Python is published already, the newer one is new: the new
    packages join the channel's priority tier, so `tool` finds both."""
    published = make_target_tar_bz2(tmp_path / "old", "core", "1.0", OLD)
    channels.publish_many("main", [published])
    new = tmp_path / "new"
    files = [
        make_target_tar_bz2(new, "core", "1.0", NEW),
        make_noarch_python_tar_bz2(new, "tool", "1.0", python=">=2.7", depends=["core"]),
    ]
    report = check_installable(files, [channels.conda_dir("main"), upstream], linux(OLD, NEW))
    assert report.failures == ()
    assert verdicts(report)[("tool", f"linux-64/py{OLD}")] == (True, "")


def test_the_targets_glibc_baseline_decides_not_the_hosts(tmp_path: Path, upstream: Path) -> None:
    package = make_target_tar_bz2(tmp_path, "modern", "1.0", NEW, depends=["__glibc >=2.28"])

    refused = check_installable([package], [upstream], linux(NEW))
    assert verdicts(refused) == {
        ("modern", f"linux-64/py{NEW}"): (
            False,
            "needs __glibc >=2.28 but the target offers __glibc 2.17",
        )
    }
    accepted = check_installable([package], [upstream], linux(NEW), baseline=Baseline.of_site(28))
    assert accepted.failures == () and names(accepted.accepted) == {"modern"}


def test_a_per_target_package_is_checked_on_its_own_target_only(
    tmp_path: Path, upstream: Path
) -> None:
    """The linux-64 py-NEW package is not checked for py2.7 nor on other subdirs; an
    osx-arm64 one is checked there, where the upstream has no Python at all."""
    files = [
        make_target_tar_bz2(tmp_path, "native", "1.0", NEW),
        make_target_tar_bz2(tmp_path, "native", "1.0", NEW, subdir="osx-arm64"),
    ]
    targets = [*linux(OLD, NEW), Target("osx-arm64", NEW), Target("win-64", NEW)]
    report = check_installable(files, [upstream], targets)
    assert verdicts(report) == {
        ("native", f"linux-64/py{NEW}"): (True, ""),
        ("native", f"osx-arm64/py{NEW}"): (False, f"nothing provides python {NEW}.* for osx-arm64"),
    }


def test_a_noarch_package_is_checked_on_the_pythons_it_admits(
    tmp_path: Path, upstream: Path
) -> None:
    """`python <3` (a py2-only wheel) is checked on 2.7 only, `python >=3` on 3.x only;
    one for a Python no target has, or for Windows only (`__win`), is reported unchecked."""
    files = [
        make_noarch_python_tar_bz2(tmp_path, "enum34", "1.1.10", python="<3"),
        make_noarch_python_tar_bz2(tmp_path, "modern", "1.0", python=">=3"),
        make_noarch_python_tar_bz2(tmp_path, "ancient", "1.0", python=">=3.5,<3.6"),
        make_noarch_python_tar_bz2(tmp_path, "winonly", "1.0", depends=["__win"]),
    ]
    report = check_installable(files, [upstream], linux(OLD, NEW))
    assert verdicts(report) == {
        ("enum34", f"linux-64/py{OLD}"): (True, ""),
        ("modern", f"linux-64/py{NEW}"): (True, ""),
    }
    assert names(report.unchecked) == {"ancient", "winonly"}


def test_one_culprit_among_many_is_found_in_a_few_solves(tmp_path: Path, upstream: Path) -> None:
    files = [make_noarch_python_tar_bz2(tmp_path, f"fine{i}", "1.0") for i in range(16)]
    files.append(make_noarch_python_tar_bz2(tmp_path, "broken", "1.0", depends=["nowhere >=1"]))
    report = check_installable(files, [upstream], linux(NEW))
    assert [(v.package.name, v.reason) for v in report.failures] == [
        ("broken", "nothing provides nowhere >=1")
    ]
    assert len(report.verdicts) == 17
    # all together, Python alone, the one rattler blames alone, the rest together; no
    # second round, as no solve that succeeded used `broken`
    assert report.solves == 4


def test_packages_that_conflict_with_each_other_are_each_installable(
    tmp_path: Path, upstream: Path
) -> None:
    """`left` needs dep <1, `right` dep >=1: they cannot share an environment, yet each
    installs; the joint solve fails and bisection clears both."""
    files = [
        make_noarch_python_tar_bz2(tmp_path, "dep", "0.5"),
        make_noarch_python_tar_bz2(tmp_path, "dep", "1.0"),
        make_noarch_python_tar_bz2(tmp_path, "left", "1.0", depends=["dep <1"]),
        make_noarch_python_tar_bz2(tmp_path, "right", "1.0", depends=["dep >=1"]),
    ]
    report = check_installable(files, [upstream], linux(NEW))
    assert report.failures == ()
    assert len(report.verdicts) == 4 and report.solves > 1


def test_check_channel_reports_what_a_channel_cannot_install(
    tmp_path: Path, upstream: Path, channels: Channels
) -> None:
    """Over a real Drawbridge channel: `app` needs `lib`, published for the newer Python
    only, so `app` fails on the older; nothing is left out, so `app` passes on the newer."""
    made = tmp_path / "made"
    published, refused = channels.publish_many(
        "main",
        [
            make_target_tar_bz2(made, "lib", "1.0", NEW),
            make_noarch_python_tar_bz2(made, "app", "2.0", python=">=2.7", depends=["lib"]),
            make_noarch_python_tar_bz2(made, "ancient", "1.0", python=">=3.5,<3.6"),
        ],
    )
    assert not refused and len(published) == 3

    report = check_channel([channels.conda_dir("main"), upstream], linux(OLD, NEW))
    assert verdicts(report) == {
        ("app", f"linux-64/py{OLD}"): (False, f"nothing provides lib for python {OLD}"),
        ("app", f"linux-64/py{NEW}"): (True, ""),
        ("lib", f"linux-64/py{NEW}"): (True, ""),
    }
    assert names(report.unchecked) == {"ancient"}
    assert report.refused[0].location.endswith("/noarch/app-2.0-pyh_0.tar.bz2")


def test_what_cannot_be_read_is_an_error_that_names_it(tmp_path: Path, upstream: Path) -> None:
    not_a_package = tmp_path / "notes-1.0-0.tar.bz2"
    not_a_package.write_text("hello")
    with pytest.raises(InstallabilityError, match="notes-1.0-0.tar.bz2"):
        check_installable([not_a_package], [upstream], linux(NEW))
    package = make_noarch_python_tar_bz2(tmp_path, "fine", "1.0")
    with pytest.raises(InstallabilityError, match="no-such-channel"):
        check_installable([package], [upstream, tmp_path / "no-such-channel"], linux(NEW))


def test_a_package_whose_index_names_no_subdir_is_an_error_that_names_it(tmp_path: Path) -> None:
    # rattler reads such an index.json with subdir None, which the staging once joined to a
    # path (a TypeError); found by mypy
    package = make_conda_tar_bz2(tmp_path / "in", "nosubdir", "1.0", index={"subdir": None})
    with pytest.raises(InstallabilityError, match="nosubdir-1.0-0.tar.bz2.*names no subdir"):
        check_installable([package], [tmp_path / "in"], linux(NEW))
