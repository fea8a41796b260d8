"""Per-target resolution over test-made wheels: uv for Python 3, pip 19's rules for Python 2.7.

The drop folder holds small projects, each built to show one way a target ends up with
an older release (or none), and what the resolver says about it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_sdist, make_wheel

from drawbridge.bridge.errors import UnsupportedTarget
from drawbridge.bridge.upstream.pypi import (
    FolderUpstream,
    UnknownUpstreamProject,
    UpstreamFile,
)
from drawbridge.bridge.resolve.per_target import InvalidRequest, TargetResolution, resolve
from drawbridge.bridge.translate.targets import Target
from drawbridge.bridge.resolve.uv_compile import (
    UvSource,
    compile_target,
    named_projects,
    uv_platform,
)
from drawbridge.bridge.resolve.uv_process import uv_environment


LINUX_311 = Target("linux-64", "3.11")


LINUX_312 = Target("linux-64", "3.12")


AARCH64_311 = Target("linux-aarch64", "3.11")


WIN_311 = Target("win-64", "3.11")


OSX_ARM_311 = Target("osx-arm64", "3.11")


OSX_311 = Target("osx-64", "3.11")


LINUX_27 = Target("linux-64", "2.7")


WIN_27 = Target("win-64", "2.7")


PY3_TARGETS = [LINUX_311, LINUX_312, AARCH64_311, WIN_311, OSX_ARM_311, OSX_311]


def binary(
    folder: Path, name: str, version: str, platforms: list[str], pythons=("311", "312"), **kwargs
) -> None:
    for python in pythons:
        for platform in platforms:
            make_wheel(folder, name, version, tag=f"cp{python}-cp{python}-{platform}", **kwargs)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> FolderUpstream:
    folder = tmp_path_factory.mktemp("drop")
    # bignum 2.0 dropped manylinux2014 and macOS 11 (numpy 2.3's story)
    old_platforms = [
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "manylinux_2_17_aarch64.manylinux2014_aarch64",
        "win_amd64",
        "macosx_10_9_x86_64",
        "macosx_11_0_arm64",
    ]
    binary(folder, "bignum", "1.0", old_platforms)
    binary(
        folder,
        "bignum",
        "2.0",
        [
            "manylinux_2_28_x86_64",
            "manylinux_2_28_aarch64",
            "win_amd64",
            "macosx_10_13_x86_64",
            "macosx_14_0_arm64",
        ],
    )
    # prerel: no final release fits glibc 2.17, so pip takes the pre-release that does
    binary(folder, "prerel", "2.0", ["manylinux_2_28_x86_64", "win_amd64"])
    make_sdist(folder, "prerel", "2.0")
    binary(folder, "prerel", "1.5rc1", ["manylinux_2_17_x86_64.manylinux2014_x86_64"])
    # macnum 2.0 needs macOS 11 on Intel and 12 on arm64: only the baselines decide
    binary(folder, "macnum", "1.0", ["macosx_10_9_x86_64", "macosx_11_0_arm64"])
    binary(folder, "macnum", "2.0", ["macosx_11_0_x86_64", "macosx_12_0_arm64"])
    # modern 2.0 needs Python 3.12
    make_wheel(folder, "modern", "1.0")
    make_wheel(folder, "modern", "2.0", requires_python=">=3.12")
    # upper 2.0 stops below 3.12: uv alone would take it there (it checks lower bounds only)
    make_wheel(folder, "upper", "1.0")
    make_wheel(folder, "upper", "2.0", requires_python="<3.12")
    # dependent 2.0 needs newdep, which exists only for Python 3.12+
    make_wheel(folder, "newdep", "1.0", requires_python=">=3.12")
    make_wheel(folder, "dependent", "1.0")
    make_wheel(folder, "dependent", "2.0", requires=["newdep"])
    # holder pins heldlib below its newest
    make_wheel(folder, "heldlib", "1.0")
    make_wheel(folder, "heldlib", "2.0")
    make_wheel(folder, "holder", "1.0", requires=["heldlib<2"])
    # nowin 2.0 is Linux-only; 1.0 was pure
    make_wheel(folder, "nowin", "1.0")
    binary(folder, "nowin", "2.0", ["manylinux_2_17_x86_64.manylinux2014_x86_64"])
    # app needs srconly, which has sdists only, and lib, which has wheels
    make_wheel(
        folder, "app", "1.0", requires=["srconly>=1", "lib", "nowin; sys_platform == 'win32'"]
    )
    make_sdist(folder, "srconly", "1.0")
    make_sdist(folder, "srconly", "1.1")
    make_sdist(folder, "srconly", "2.0")
    make_wheel(folder, "dotted.name", "1.0", requires=["srconly<2"])
    make_wheel(folder, "lib", "1.0", tag="py3-none-any")
    make_wheel(folder, "orphan", "1.0", requires=["absent>=1"])
    # Python 2.7: configparser's story, enum34's, and pip 19's first-requirement-wins
    make_wheel(folder, "cfg", "4.0", tag="py2.py3-none-any")
    make_wheel(folder, "cfg", "5.0", tag="py2.py3-none-any", requires_python=">=3.6")
    make_wheel(folder, "enumish", "1.1", tag="py2-none-any")
    make_wheel(folder, "shared", "1.0", tag="py2.py3-none-any")
    make_wheel(folder, "shared", "2.0", tag="py2.py3-none-any")
    make_wheel(folder, "first", "1.0", tag="py2.py3-none-any", requires=["shared<2"])
    make_wheel(folder, "second", "1.0", tag="py2.py3-none-any", requires=["shared>=2"])
    make_wheel(folder, "greedy-top", "1.0", tag="py2.py3-none-any", requires=["greedy-dep"])
    make_wheel(folder, "greedy-top", "2.0", tag="py2.py3-none-any", requires=["greedy-dep>=2"])
    make_wheel(folder, "greedy-dep", "1.0", tag="py2.py3-none-any")
    make_wheel(folder, "greedy-dep", "2.0", tag="py3-none-any")
    make_wheel(folder, "py2bin", "1.0", tag="cp27-cp27mu-manylinux1_x86_64", requires=["enumish"])
    make_wheel(folder, "py2bin", "1.0", tag="cp27-cp27m-win_amd64", requires=["enumish"])
    return FolderUpstream(folder)


def by_target(results: list[TargetResolution]) -> dict[Target, TargetResolution]:
    return {r.target: r for r in results}


@pytest.fixture(scope="module")
def resolved(
    drop: FolderUpstream, tmp_path_factory: pytest.TempPathFactory
) -> dict[Target, TargetResolution]:
    request = ["bignum", "modern", "dependent", "holder", "heldlib", "nowin", "upper", "prerel"]
    return by_target(
        resolve(request, drop, PY3_TARGETS, cache_dir=tmp_path_factory.mktemp("cache"))
    )


@pytest.mark.parametrize(
    ("target", "project", "version", "held_back"),
    [
        (
            LINUX_311,
            "bignum",
            "1.0",
            "2.0 needs manylinux_2_28: raise manylinux_glibc_minor to 28 to get it",
        ),
        (
            AARCH64_311,
            "bignum",
            "1.0",
            "2.0 needs manylinux_2_28: raise manylinux_glibc_minor to 28 to get it",
        ),
        (WIN_311, "bignum", "2.0", ""),
        (OSX_311, "bignum", "2.0", ""),
        (
            OSX_ARM_311,
            "bignum",
            "1.0",
            "2.0 needs macOS 14.0: set [bridge] macos_baseline osx-arm64 to 14.0 to get it",
        ),
        (LINUX_311, "modern", "1.0", "2.0 needs Python >=3.12"),
        (
            LINUX_311,
            "prerel",
            "1.5rc1",
            "2.0 needs manylinux_2_28: raise manylinux_glibc_minor to 28 to get it",
        ),
        (WIN_311, "prerel", "2.0", ""),
        (LINUX_312, "modern", "2.0", ""),
        (LINUX_312, "upper", "1.0", "2.0 needs Python <3.12"),
        (LINUX_311, "upper", "2.0", ""),
        (LINUX_311, "dependent", "1.0", "2.0 requires newdep, and newdep 1.0 needs Python >=3.12"),
        (LINUX_312, "dependent", "2.0", ""),
        (LINUX_312, "newdep", "1.0", ""),
        (LINUX_311, "heldlib", "1.0", "held back by holder 1.0's requirement heldlib<2"),
        (WIN_311, "nowin", "1.0", "2.0 has no wheel for win-64"),
        (OSX_311, "nowin", "1.0", "2.0 has no wheel for osx-64"),
        (LINUX_311, "nowin", "2.0", ""),
    ],
)
def test_each_target_gets_what_pip_would_there_and_why(
    resolved, target, project, version, held_back
):
    pin = resolved[target].pins[project]
    assert (pin.version, pin.held_back) == (version, held_back)
    assert pin.wheel is not None and pin.wheel.version == version
    assert not resolved[target].problem


def test_pins_carry_the_wheel_pip_would_take_and_its_metadata(resolved):
    bignum = resolved[LINUX_311].pins["bignum"]
    assert (
        bignum.wheel.filename
        == "bignum-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert (
        resolved[OSX_311].pins["bignum"].wheel.filename
        == "bignum-2.0-cp311-cp311-macosx_10_13_x86_64.whl"
    )
    dependent, newdep = resolved[LINUX_312].pins["dependent"], resolved[LINUX_312].pins["newdep"]
    assert dependent.requires_dist == ("newdep",) and dependent.required_by == ("",)
    assert newdep.required_by == ("dependent",) and newdep.requires_python == ">=3.12"
    assert "newdep" not in resolved[LINUX_311].pins
    assert resolved[LINUX_311].pins["heldlib"].required_by == ("", "holder")


def test_a_higher_glibc_baseline_takes_the_newest(drop, tmp_path):
    [result] = resolve(["bignum"], drop, [LINUX_311], cache_dir=tmp_path, manylinux=(2, 28))
    assert (result.pins["bignum"].version, result.pins["bignum"].held_back) == ("2.0", "")
    assert (
        result.pins["bignum"].wheel.filename == "bignum-2.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    )


@pytest.mark.parametrize("target", [LINUX_311, WIN_311, OSX_ARM_311])
def test_a_project_without_wheels_becomes_a_recipe_pin_and_the_rest_resolves(
    drop, tmp_path, target
):
    [result] = resolve(["app", "dotted.name"], drop, [target], cache_dir=tmp_path)
    assert not result.problem
    srconly = result.pins["srconly"]
    assert (srconly.wheel, srconly.requires_dist, srconly.version) == (None, None, "1.1")
    assert srconly.needs_recipe and srconly.sdist.filename == "srconly-1.1.tar.gz"
    assert srconly.required_by == ("app", "dotted-name")
    assert "dependencies are unknown" in srconly.no_wheel and "only an sdist" in srconly.no_wheel
    assert srconly.held_back == "held back by dotted.name 1.0's requirement srconly<2"
    assert result.pins["lib"].wheel.filename == "lib-1.0-py3-none-any.whl"
    assert result.pins["dotted-name"].name == "dotted.name"
    assert ("nowin" in result.pins) == (target.os == "win")


def test_a_requested_project_without_wheels_is_a_recipe_pin(drop, tmp_path):
    [result] = resolve(["srconly<2"], drop, [LINUX_311], cache_dir=tmp_path)
    assert result.pins["srconly"].version == "1.1" and result.pins["srconly"].required_by == ("",)


@pytest.mark.parametrize(
    ("request_", "target", "expected", "problem", "warning"),
    [
        # configparser's story: 5.0 says Requires-Python >=3.6, pip 19 takes 4.0 on 2.7
        (["cfg"], LINUX_27, {"cfg": "4.0"}, "", ""),
        (["cfg"], LINUX_311, {"cfg": "5.0"}, "", ""),
        # enum34's story: a py2-only wheel serves 2.7 and nothing else
        (["enumish"], WIN_27, {"enumish": "1.1"}, "", ""),
        (["enumish"], LINUX_311, {}, "enumish", ""),
        (["py2bin"], LINUX_27, {"py2bin": "1.0", "enumish": "1.1"}, "", ""),
        # the first requirement seen wins, the later one is only a warning
        (
            ["first", "second"],
            LINUX_27,
            {"first": "1.0", "second": "1.0", "shared": "1.0"},
            "",
            "shared>=2",
        ),
        # together they conflict on shared: the first keeps its closure, the second is unmet
        (["first", "second"], LINUX_311, {"first": "1.0", "shared": "1.0"}, "", ""),
        # no backtracking: greedy-top 2.0 is taken although greedy-dep>=2 has no py2 wheel
        (["greedy-top"], LINUX_27, {}, "greedy-top's requirement greedy-dep>=2", ""),
        (["greedy-top"], LINUX_311, {"greedy-top": "2.0", "greedy-dep": "2.0"}, "", ""),
    ],
)
def test_python27_resolves_like_pip19(drop, tmp_path, request_, target, expected, problem, warning):
    [result] = resolve(request_, drop, [target], cache_dir=tmp_path)
    assert {p: pin.version for p, pin in result.pins.items()} == expected
    assert (problem in result.problem) and bool(result.problem) == bool(problem), result.problem
    assert warning in " ".join(result.warnings) and bool(result.warnings) == bool(warning)


def test_requests_that_conflict_are_resolved_alone_and_the_clash_named(drop, tmp_path):
    """One request must not take the batch down: each is resolved alone when together they
    fail, and a request whose closure clashes with an earlier one's says so."""
    [result] = resolve(["first", "second", "enumish"], drop, [LINUX_311], cache_dir=tmp_path)
    assert set(result.pins) == {"first", "shared"} and not result.problem
    assert (
        result.unmet["second"]
        == "needs shared 2.0, but first needs shared 1.0 here: bridge them in separate runs"
    )
    assert "enumish" in result.unmet  # a py2-only wheel: nothing for 3.11


def test_python27_explains_what_pip19_skipped(drop, tmp_path):
    [result] = resolve(["cfg"], drop, [LINUX_27], cache_dir=tmp_path)
    assert result.pins["cfg"].held_back == "5.0 needs Python >=3.6"


def test_a_request_that_cannot_be_met_on_a_target_is_a_problem_not_an_error(drop, tmp_path):
    results = by_target(resolve(["modern>=2"], drop, [LINUX_311, LINUX_312], cache_dir=tmp_path))
    assert "Python" in results[LINUX_311].problem and not results[LINUX_311].pins
    assert results[LINUX_312].pins["modern"].version == "2.0" and not results[LINUX_312].problem


def test_bad_input_raises_naming_it(drop, tmp_path):
    with pytest.raises(InvalidRequest, match="numpy>>2"):
        resolve(["numpy>>2"], drop, [LINUX_311], cache_dir=tmp_path)
    with pytest.raises(UnknownUpstreamProject, match="no-such-project"):
        resolve(["no-such-project"], drop, [LINUX_311], cache_dir=tmp_path)


class MetadataRefused:
    """An upstream whose metadata() fails: what a warm run must never call."""

    def __init__(self, upstream: FolderUpstream) -> None:
        self.upstream, self.folder = upstream, upstream.folder

    def files(self, project: str) -> list[UpstreamFile]:
        return self.upstream.files(project)

    def metadata(self, file: UpstreamFile) -> bytes:
        raise AssertionError(f"metadata of {file.filename} fetched again")

    def distribution_folders(self) -> list[Path]:
        return self.upstream.distribution_folders()


def test_a_warm_run_reads_metadata_from_the_cache(drop, tmp_path):
    cold = resolve(["dependent", "bignum"], drop, [LINUX_312, WIN_311], cache_dir=tmp_path)
    warm = resolve(
        ["dependent", "bignum"], MetadataRefused(drop), [LINUX_312, WIN_311], cache_dir=tmp_path
    )
    assert warm == cold


def test_a_dependency_the_upstream_lacks_is_a_problem_naming_it(drop, tmp_path):
    [result] = resolve(["orphan"], drop, [LINUX_311], cache_dir=tmp_path)
    assert "absent" in result.problem and not result.pins


# uv 0.13's explanations, as it printed them for the drop folder above and for pypi.org
UV_NO_SOLUTION = [
    (
        (
            "Because all versions of srconly have no usable wheels and all versions of app depend "
            "on "
            "srconly, we can conclude that all versions of app cannot be used.\n And because you "
            "require app, we can conclude that your requirements are unsatisfiable.\n\nhint: "
            "Wheels "
            "are required for `srconly` because building from source is disabled for all packages"
        ),
        {"srconly": "", "app": ""},
    ),
    (
        (
            "Because lib>=2.0 has no wheels with a matching platform tag (e.g., "
            "`manylinux_2_17_x86_64`)"
            " and you require lib>=2, we can conclude that your requirements are unsatisfiable.\n\n"
            "hint: Wheels are available for `lib` (v2.1) on the following platform: "
            "`manylinux_2_24_x86_64`"
        ),
        {"lib": ">=2.0"},
    ),
    (
        (
            "Because newpy==1.0 requires Python >=3.12 and only newpy==1.0 is available, we can "
            "conclude that all versions of newpy cannot be used."
        ),
        {"newpy": "==1.0"},
    ),
    (
        "Because nosuch was not found in the provided package locations and you require nosuch",
        {"nosuch": ""},
    ),
    (
        (
            "Because only the following versions of zope-interface are available:\n "
            "zope-interface<=4.0"
            "\n and zope.interface>=5,<6 depends on Foo_Bar[extra]>=1.0,<2"
        ),
        {"zope-interface": "<=4.0", "foo-bar": "<2,>=1.0"},
    ),
    (
        (
            "hint: You require CPython 3.12 (`cp312`), but we only found wheels for `mac` (v2.0) "
            "with "
            "the following Python ABI tag: `cp311`"
        ),
        {"mac": ""},
    ),
]


@pytest.mark.parametrize(("message", "expected"), UV_NO_SOLUTION)
def test_the_projects_uv_names_when_there_is_no_solution(message, expected):
    named = named_projects(message)
    assert {name: str(specifier) for name, specifier in named.items()} == expected


@pytest.mark.parametrize(
    ("subdir", "glibc", "expected"),
    [
        ("linux-64", (2, 17), "x86_64-manylinux_2_17"),
        ("linux-64", (2, 24), "x86_64-manylinux_2_17"),  # uv knows no 2_18 to 2_27
        ("linux-aarch64", (2, 28), "aarch64-manylinux_2_28"),
        ("linux-64", (2, 99), "x86_64-manylinux_2_40"),
        ("osx-64", (2, 17), "x86_64-apple-darwin"),
        ("osx-arm64", (2, 17), "aarch64-apple-darwin"),
        ("win-64", (2, 17), "x86_64-pc-windows-msvc"),
    ],
)
def test_uv_platform_for_each_subdir(subdir, glibc, expected):
    assert uv_platform(subdir, glibc) == expected


@pytest.mark.parametrize(("subdir", "glibc"), [("linux-64", (2, 12)), ("linux-ppc64le", (2, 17))])
def test_what_uv_cannot_resolve_for_is_refused(subdir, glibc):
    with pytest.raises(UnsupportedTarget, match="manylinux_glibc_minor|linux-ppc64le"):
        uv_platform(subdir, glibc)


def test_uv_gets_the_macos_baseline_and_none_of_the_callers_uv_settings(monkeypatch):
    monkeypatch.setenv("UV_INDEX_URL", "https://elsewhere.invalid/simple/")
    monkeypatch.setenv("MACOSX_DEPLOYMENT_TARGET", "15.0")
    osx = uv_environment(OSX_ARM_311.subdir, {"osx-arm64": (11, 0)})
    assert osx["MACOSX_DEPLOYMENT_TARGET"] == "11.0"
    linux = uv_environment(LINUX_311.subdir)
    assert "MACOSX_DEPLOYMENT_TARGET" not in linux and "UV_INDEX_URL" not in linux


@pytest.mark.parametrize(
    ("project", "target", "baseline", "expected"),
    [
        ("macnum", OSX_311, {"macos": {"osx-64": (10, 13)}}, "1.0"),
        ("macnum", OSX_311, {"macos": {"osx-64": (11, 0)}}, "2.0"),
        ("macnum", OSX_ARM_311, {"macos": {"osx-arm64": (11, 0)}}, "1.0"),
        ("macnum", OSX_ARM_311, {"macos": {"osx-arm64": (12, 0)}}, "2.0"),
        ("bignum", LINUX_311, {"manylinux": (2, 17)}, "1.0"),
        ("bignum", AARCH64_311, {"manylinux": (2, 28)}, "2.0"),
    ],
)
def test_uv_itself_gets_the_targets_baselines(drop, tmp_path, project, target, baseline, expected):
    """uv alone, without the resolver's checks: MACOSX_DEPLOYMENT_TARGET, the manylinux triple."""
    options = {"manylinux": (2, 17), **baseline}
    compiled = compile_target(
        [project], target, UvSource(folders=(drop.folder,)), cache_dir=tmp_path, **options
    )
    assert compiled.versions == {project: expected}


def test_an_unmet_request_is_set_aside_and_the_rest_resolved_together(tmp_path):
    """`onlypy2` cannot be met on 3.11 and fails the batch; `wide` and `narrow` resolved one
    by one would take shared 2.0 and 1.0 and clash, but together they agree on 1.0."""
    folder = tmp_path / "drop"
    make_wheel(folder, "shared", "1.0")
    make_wheel(folder, "shared", "2.0")
    make_wheel(folder, "wide", "1.0", requires=["shared>=1"])
    make_wheel(folder, "narrow", "1.0", requires=["shared<2"])
    make_wheel(folder, "onlypy2", "1.0", tag="py2-none-any")
    [result] = resolve(
        ["wide", "onlypy2", "narrow"], FolderUpstream(folder), [LINUX_311], cache_dir=tmp_path / "c"
    )
    assert {p: pin.version for p, pin in result.pins.items()} == {
        "wide": "1.0",
        "narrow": "1.0",
        "shared": "1.0",
    }
    assert set(result.unmet) == {"onlypy2"} and not result.problem
