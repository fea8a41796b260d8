"""Per-target resolution of real projects from pypi.org, checked against real pip.

Marked online: skipped when pypi.org is unreachable. The expected answers are not written
down: pip itself (pip 23 for Python 3, pip 19.2.3 on the pyenv Python 2.7) is asked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import PYENV, client_env
from packaging.utils import canonicalize_name, parse_wheel_filename

from drawbridge.bridge.translate.markers import active_requirements
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.bridge.resolve.per_target import TargetResolution, resolve
from drawbridge.bridge.translate.targets import DEFAULT_PYTHONS, DEFAULT_SUBDIRS, Target, targets

pytestmark = pytest.mark.online
PYPI = "https://pypi.org/simple/"
BINARY_PROJECTS = ["numpy", "pandas", "scipy", "pillow", "cryptography", "black"]
PYTHON2_PROJECTS = ["six", "configparser", "futures", "enum34"]
#: how pip 23 is told about each subdir's machine (the defaults' glibc 2.17 and macOS baselines)
PIP_PLATFORM = {
    "linux-64": "manylinux2014_x86_64",
    "linux-aarch64": "manylinux2014_aarch64",
    "osx-64": "macosx_10_13_x86_64",
    "osx-arm64": "macosx_11_0_arm64",
    "win-64": "win_amd64",
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleIndexUpstream]:
    with SimpleIndexUpstream(PYPI, DownloadCache(tmp_path_factory.mktemp("downloads"))) as opened:
        yield opened


@pytest.fixture(scope="module")
def binary(upstream, tmp_path_factory: pytest.TempPathFactory) -> dict[Target, TargetResolution]:
    every = targets(DEFAULT_SUBDIRS, DEFAULT_PYTHONS)
    cache = tmp_path_factory.mktemp("cache")
    return {r.target: r for r in resolve(BINARY_PROJECTS, upstream, every, cache_dir=cache)}


def run_pip_download(
    python: str, destination: Path, *arguments: str
) -> subprocess.CompletedProcess:
    """A real `pip download --only-binary :all:` into an empty folder."""
    destination.mkdir(parents=True)
    command = [python, "-m", "pip", "download", "--only-binary", ":all:", "-d", str(destination)]
    return subprocess.run(
        [*command, "--index-url", PYPI, *arguments],
        check=False,
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=600,
    )


def pip_download(python: str, destination: Path, *arguments: str) -> list[str]:
    """The wheel filenames a real pip downloads."""
    run = run_pip_download(python, destination, *arguments)
    assert run.returncode == 0, run.stderr
    return sorted(p.name for p in destination.iterdir())


def pip3_arguments(target: Target) -> list[str]:
    """How pip 23 (pyenv Python 3.11) is told about the target's machine."""
    nodot = target.python.replace(".", "")
    return [
        "--platform",
        PIP_PLATFORM[target.subdir],
        "--python-version",
        target.python,
        "--implementation",
        "cp",
        "--abi",
        f"cp{nodot}",
    ]


PIP3 = str(PYENV / "3.11.7" / "bin" / "python")


def test_every_default_target_gets_every_project(binary):
    assert len(binary) == 25
    for target, result in binary.items():
        assert not result.problem, (target, result.problem)
        assert set(BINARY_PROJECTS) <= set(result.pins), target


def test_a_pin_without_a_wheel_is_one_pip_cannot_download_either(binary, tmp_path):
    wheel_less = sorted(
        {(t, p.project) for t, r in binary.items() for p in r.pins.values() if p.wheel is None}
    )
    assert len(wheel_less) <= 5, wheel_less  # scipy has no macOS 11 arm64 wheel at all
    for index, (target, project) in enumerate(wheel_less):
        folder = tmp_path / str(index)
        run = run_pip_download(PIP3, folder, *pip3_arguments(target), "--no-deps", project)
        assert run.returncode != 0 and "No matching distribution" in run.stderr, (target, project)
        pin = binary[target].pins[project]
        assert pin.sdist is not None and pin.version == pin.sdist.version and pin.no_wheel


def test_every_closure_is_complete_and_consistent(binary):
    """Each pin's requirements that hold on its target are pinned there, at a version they admit."""
    for target, result in binary.items():
        for pin in result.pins.values():
            for requirement in active_requirements(pin.requires_dist or (), target):
                dependency = result.pins.get(canonicalize_name(requirement.name))
                assert dependency is not None, (target, pin.project, str(requirement))
                assert requirement.specifier.contains(dependency.version, prereleases=True)
                assert pin.project in dependency.required_by


PIP_CHECKED = [
    Target("linux-64", "3.11"),
    Target("linux-aarch64", "3.10"),
    Target("win-64", "3.9"),
    Target("osx-64", "3.12"),
    Target("osx-arm64", "3.13"),
]


@pytest.fixture(scope="module")
def numpy_alone(
    upstream, tmp_path_factory: pytest.TempPathFactory
) -> dict[Target, TargetResolution]:
    cache = tmp_path_factory.mktemp("cache")
    return {r.target: r for r in resolve(["numpy"], upstream, PIP_CHECKED, cache_dir=cache)}


@pytest.mark.parametrize("target", PIP_CHECKED, ids=str)
def test_numpy_is_the_wheel_pip_downloads_there(numpy_alone, target, tmp_path):
    [expected] = pip_download(PIP3, tmp_path / "pip", *pip3_arguments(target), "--no-deps", "numpy")
    assert numpy_alone[target].pins["numpy"].wheel.filename == expected


def test_a_pin_held_back_by_another_says_by_which(binary):
    """scipy stops numpy below its newest where scipy's own newest needs a newer macOS."""
    numpy = binary[Target("osx-64", "3.12")].pins["numpy"]
    scipy = binary[Target("osx-64", "3.12")].pins["scipy"]
    if "held back by" not in numpy.held_back:
        pytest.skip(f"numpy is not held back on osx-64/py3.12 today ({numpy.version})")
    assert f"held back by scipy {scipy.version}'s requirement numpy" in numpy.held_back
    assert "set [bridge] macos_baseline osx-64 to" in scipy.held_back


def test_the_glibc_217_python311_linux_target_is_held_back_and_says_why(binary):
    numpy = binary[Target("linux-64", "3.11")].pins["numpy"]
    assert "manylinux2014_x86_64" in numpy.wheel.filename
    assert "need Python >=3.12" in numpy.held_back
    assert "raise manylinux_glibc_minor to 28 to get them" in numpy.held_back


def test_pandas_closure_is_what_pip_downloads_on_linux_311(binary, tmp_path):
    target = Target("linux-64", "3.11")
    downloaded = pip_download(PIP3, tmp_path / "pip", *pip3_arguments(target), "pandas")
    pins = binary[target].pins
    ours = {
        pins[canonicalize_name(parse_wheel_filename(name)[0])].wheel.filename for name in downloaded
    }
    assert ours == set(downloaded)


@pytest.mark.parametrize("subdir", ["linux-64", "win-64"])
def test_python27_gets_what_pip19_gets(upstream, subdir, tmp_path):
    python27 = PYENV / "2.7.18" / "bin" / "python"
    if not python27.exists():
        pytest.skip("no pyenv Python 2.7.18")
    foreign = (
        []
        if subdir == "linux-64"
        else [
            "--platform",
            "win_amd64",
            "--python-version",
            "27",
            "--implementation",
            "cp",
            "--abi",
            "cp27m",
        ]
    )
    downloaded = pip_download(str(python27), tmp_path / "pip", *foreign, *PYTHON2_PROJECTS)
    [result] = resolve(
        PYTHON2_PROJECTS, upstream, [Target(subdir, "2.7")], cache_dir=tmp_path / "cache"
    )
    assert not result.problem
    assert {pin.wheel.filename for pin in result.pins.values()} == set(downloaded)
    assert result.pins["configparser"].version == "4.0.2"
    assert "needs Python" in result.pins["configparser"].held_back
