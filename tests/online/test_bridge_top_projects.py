"""The projects people install first, bridged from pypi.org with the defaults (online).

numpy, pandas, scipy, pillow, cryptography and black: every one of the 25 default targets
gets a package wherever some release has a wheel for it; on linux-64 the packages made
for Python 3.9 and 3.12 install with py-rattler into the test upstream's Pythons and work.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import rattler
from clients import PYENV, channel_uri, client_env, run_drawbridge
from databases import new_home
from upstream import build_upstream_channel
from served_state import conda_index_file

from drawbridge.bridge.installable.claims import DEFAULT_BASELINE
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.plan import make_plan
from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.bridge.translate.targets import DEFAULT_PYTHONS, DEFAULT_SUBDIRS, targets
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels

pytestmark = pytest.mark.online
PYPI = "https://pypi.org/simple/"
TOP_PROJECTS = ["numpy", "pandas", "scipy", "pillow", "cryptography", "black"]
#: one real operation of each project, run in the installed environment
WORKS = """
import numpy, pandas, scipy.linalg, PIL.Image, black
from cryptography.fernet import Fernet
assert numpy.dot([1, 2], [3, 4]) == 11
assert pandas.DataFrame({"a": [1, 2]})["a"].sum() == 3
assert abs(scipy.linalg.inv(numpy.array([[2.0, 0.0], [0.0, 4.0]]))[1][1] - 0.25) < 1e-12
assert PIL.Image.new("RGB", (4, 4), "red").getpixel((0, 0)) == (255, 0, 0)
key = Fernet(Fernet.generate_key())
assert key.decrypt(key.encrypt(b"drawbridge")) == b"drawbridge"
assert black.format_str("x=1", mode=black.Mode()) == "x = 1\\n"
print("works", numpy.__version__, pandas.__version__, scipy.__version__)
"""
PYTHONS_UNDER_TEST = {"3.9": "3.9.18", "3.12": "3.12.1"}


@pytest.fixture(scope="module")
def upstream_with_pythons() -> Path:
    """The test upstream with Python 3.9 and 3.12 for linux-64 (and this machine's)."""
    machine = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    versions = [v for v in (*PYTHONS_UNDER_TEST.values(), machine) if (PYENV / v).is_dir()]
    if len(versions) < 3:
        pytest.skip(f"needs pyenv Pythons {', '.join(PYTHONS_UNDER_TEST.values())}")
    return build_upstream_channel(versions, name="upstream-py39-py312")


def test_every_default_target_gets_a_package_wherever_a_wheel_exists(tmp_path: Path):
    """The plan for the 25 default targets: each project is repacked for every target
    unless no release has a wheel for it there (then a recipe, never nothing)."""
    with SimpleIndexUpstream(PYPI, DownloadCache(tmp_path / "cache")) as upstream:
        every = targets(DEFAULT_SUBDIRS, DEFAULT_PYTHONS)
        plan, _names = make_plan(
            TOP_PROJECTS, upstream, None, every, default_table(), cache_dir=tmp_path / "cache"
        )
        assert not plan.problems
        for project in plan.projects:
            if project.project not in TOP_PROJECTS:
                continue
            covered = {t: g.route for g in project.groups for t in g.targets}
            assert set(covered) == set(every), (project.project, set(every) - set(covered))
            assert set(covered.values()) <= {"wheel", "recipe"}, project.groups
            recipes = [g for g in project.groups if g.route == "recipe"]
            assert all("no acceptable release has a wheel" in g.note for g in recipes), recipes
        wheel_targets = {
            p.project: sum(len(g.targets) for g in p.groups if g.route == "wheel")
            for p in plan.projects
        }
        assert all(wheel_targets[p] == 25 for p in ("numpy", "pandas", "pillow", "black")), (
            wheel_targets
        )


def test_top_projects_install_and_work_on_linux_for_python_39_and_312(
    upstream_with_pythons: Path, tmp_path: Path
):
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    target_args = [
        "--platform",
        "linux-64",
        "--python",
        "3.9",
        "--python",
        "3.12",
        "--upstream-conda",
        upstream_with_pythons.as_uri(),
    ]
    bridged = run_drawbridge(
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        PYPI,
        *target_args,
        *TOP_PROJECTS,
        timeout=1200,
    )
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    assert "not checked for installability" not in bridged.stderr  # both Pythons are upstream
    checked = run_drawbridge(
        "bridge", "--home", str(home.root), "--check", *target_args, timeout=600
    )
    assert checked.returncode == 0 and ", 0 failing" in checked.stdout, (
        checked.stdout + checked.stderr
    )
    channels = [
        rattler.Channel(channel_uri(home.channel("main").conda_dir)),
        rattler.Channel(upstream_with_pythons.as_uri()),
    ]
    for python in PYTHONS_UNDER_TEST:
        records = asyncio.run(
            rattler.solve(
                channels,
                [f"python {python}.*", *TOP_PROJECTS],
                platforms=["linux-64", "noarch"],
                virtual_packages=DEFAULT_BASELINE.virtual_packages("linux-64"),
            )
        )
        prefix = tmp_path / f"env-{python}"
        asyncio.run(
            rattler.install(records, prefix, cache_dir=tmp_path / "pkgs", show_progress=False)
        )
        ran = subprocess.run(
            [str(prefix / "bin" / "python"), "-c", WORKS],
            capture_output=True,
            text=True,
            env=client_env(),
            timeout=300,
        )
        assert ran.returncode == 0 and ran.stdout.startswith("works"), (
            python,
            ran.stdout,
            ran.stderr,
        )


@pytest.fixture(scope="module")
def upstream_with_python27() -> Path:
    machine = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not (PYENV / "2.7.18").is_dir() or not (PYENV / machine).is_dir():
        pytest.skip("needs pyenv Python 2.7.18 and this machine's Python")
    return build_upstream_channel(["2.7.18", machine])


def solve(channels: list[Path], specs: list[str]) -> list:
    return asyncio.run(
        rattler.solve(
            [rattler.Channel(channel_uri(c)) for c in channels],
            specs,
            platforms=["linux-64", "noarch"],
            virtual_packages=DEFAULT_BASELINE.virtual_packages("linux-64"),
        )
    )


def test_python27_gets_what_pip19_installs_and_imports_it(
    upstream_with_python27: Path, tmp_path: Path
):
    """six, configparser, futures and enum34 for Python 2.7: the releases pip 19.2.3 installs
    there (checked against the real pip 19 first), installable and importable in a 2.7
    prefix; enum34, a py2-only wheel, is not installable into Python 3."""
    machine = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = ["six", "configparser", "futures", "enum34"]
    pip19 = subprocess.run(
        [
            str(PYENV / "2.7.18" / "bin" / "python"),
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--index-url",
            PYPI,
            "--dest",
            str(tmp_path / "pip19"),
            *wanted,
        ],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=300,
    )
    assert pip19.returncode == 0, pip19.stdout + pip19.stderr
    expected = {
        p.name.split("-")[0].lower(): p.name.split("-")[1] for p in (tmp_path / "pip19").iterdir()
    }
    assert expected["configparser"] == "4.0.2"
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    # configured for linux-64 alone: pure wheels become noarch packages (a home with
    # linux-aarch64 too would get one package per target from a linux-64 run)
    every = '"linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"'
    home.config_path.write_text(home.config_path.read_text().replace(every, '"linux-64"'))
    bridged = run_drawbridge(
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        PYPI,
        "--upstream-conda",
        upstream_with_python27.as_uri(),
        "--platform",
        "linux-64",
        "--python",
        "2.7",
        *wanted,
        timeout=600,
    )
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    channels = [home.channel("main").conda_dir, upstream_with_python27]
    records = solve(channels, ["python 2.7.*", *wanted])
    installed = {r.name.normalized: str(r.version) for r in records}
    assert {name: installed[name] for name in wanted} == expected
    prefix = tmp_path / "env27"
    asyncio.run(rattler.install(records, prefix, cache_dir=tmp_path / "pkgs", show_progress=False))
    probe = (
        "import six, configparser, concurrent.futures, enum; print(enum.Enum('E', 'a b').b.value)"
    )
    ran = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        env=client_env(),
    )
    assert ran.returncode == 0 and ran.stdout.strip() == "2", ran.stderr
    # the package made of enum34's py2-none-any wheel says python <3: no Python 3 takes it
    enum34 = next(r for r in records if r.name.normalized == "enum34")
    assert any(d.startswith("python ") and "<3" in d for d in enum34.depends), enum34.depends
    with pytest.raises(Exception, match="enum34"):
        solve(channels, [f"python {machine}.*", "enum34"])


def test_conda_forge_names_solve(upstream_with_python27: Path, tmp_path: Path):
    """`conda install zope.interface` finds the bridged zope.interface; ruamel.yaml and
    pywin32 carry their conda-forge names (pywin32, not the alias pywin32-on-windows)."""
    machine = f"{sys.version_info.major}.{sys.version_info.minor}"
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    bridged = run_drawbridge(
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        PYPI,
        "--upstream-conda",
        upstream_with_python27.as_uri(),
        "--platform",
        "linux-64",
        "--platform",
        "win-64",
        "--python",
        machine,
        "zope.interface",
        "ruamel.yaml",
        "pywin32",
        timeout=600,
    )
    assert bridged.returncode == 0, bridged.stdout + bridged.stderr
    records = solve(
        [home.channel("main").conda_dir, upstream_with_python27],
        [f"python {machine}.*", "zope.interface", "ruamel.yaml"],
    )
    assert {"zope.interface", "ruamel.yaml"} <= {r.name.normalized for r in records}
    windows = conda_index_file(home.channel("main").conda_dir / "win-64")["packages.conda"]
    assert "pywin32" in {r["name"] for r in windows.values()}
    assert not any(r["name"].endswith("-on-windows") for r in windows.values())
