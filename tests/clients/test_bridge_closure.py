"""What a bridge run publishes is whole and honest (issue 17): the pip view holds every
wheel the closure pins, also where the conda side takes a project from the upstream
mirror; and a conda package claims no target its dependencies were not worked out for,
whatever runs came before. Offline, from drop folders, against the stand-in mirrors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from builders import make_wheel
from clients import client_env, install_from_channels, PY27, PYENV, pyenv_python, run_drawbridge
from databases import new_home
from servers import start_server
from served_state import conda_index_file

from drawbridge.bridge.installable.claims import claims
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.run import (
    BridgeOptions,
    BridgeReport,
    ChannelCheck,
    check_bridged_channel,
    run_bridge,
)
from drawbridge.bridge.translate.targets import Target
from drawbridge.channel.database import Database
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.service import Channels

#: the stand-in mirror `upstream_39_312`'s Pythons, and the pyenv builds that go with them
MIRROR_PYTHONS = {"3.9": "3.9.18", "3.11": "3.11.7", "3.12": "3.12.1"}


def linux_only_home(root: Path) -> Home:
    """A home configured for linux-64 alone (Pythons: the defaults, 3.9 to 3.13), so that a
    run for linux-64 covers every configured platform and pure wheels become noarch."""
    home = new_home(root)
    Channels(home, Database(home.database_url)).create("main")
    config = home.config_path
    text = config.read_text()
    assert 'platforms = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]' in text
    config.write_text(
        text.replace('"linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"', '"linux-64"')
    )
    return load_home(root)


def bridge(home: Home, drop: Path, mirror: Path, pythons: list[str], *wanted: str) -> BridgeReport:
    """`drawbridge bridge` in-process for linux-64 and `pythons`, from `drop` and `mirror`."""
    database = Database(home.database_url)
    try:
        report = run_bridge(
            home,
            Channels(home, database),
            RecipeBook(home, database),
            BridgeOptions(
                requirements=wanted,
                channel="main",
                platforms=("linux-64",),
                pythons=tuple(pythons),
                upstream_pypi=str(drop),
                upstream_conda=(mirror.as_uri(),),
            ),
            "test",
        )
    finally:
        database.close()
    assert report.ok, [o for o in report.outcomes if not o.ok]
    return report


def records(home: Home) -> dict[str, dict]:
    """Every conda package of the channel: "subdir/filename" → its repodata record."""
    found = {}
    for subdir in ("noarch", "linux-64"):
        repodata = conda_index_file(home.channel("main").conda_dir / subdir)
        for filename, record in repodata["packages.conda"].items():
            found[f"{subdir}/{filename}"] = record
    return found


def claimed(record: dict, pythons: list[str]) -> list[str]:
    """The Pythons among `pythons` a linux-64 client sees the package claim."""
    return [
        p for p in pythons if claims(record["subdir"], record["depends"], Target("linux-64", p))
    ]


def assert_installs_where_it_claims(home: Home, mirror: Path, tmp_path: Path) -> None:
    """Every package installs with py-rattler on every Python of the mirror it claims."""
    for key, record in records(home).items():
        for python in claimed(record, list(MIRROR_PYTHONS)):
            spec = f"{record['name']} =={record['version']} {record['build']}"
            try:
                install_from_channels(
                    [home.channel("main").conda_dir, mirror],
                    [f"python {python}.*", spec],
                    tmp_path / f"env-{record['name']}-{python}",
                    tmp_path / "pkgs",
                )
            except Exception as error:  # rattler's SolverError: the claim is false
                raise AssertionError(f"{key} claims Python {python} but: {error}") from None


def check(home: Home, mirror: Path, *pythons: str) -> ChannelCheck:
    """`drawbridge bridge --check --upstream-conda MIRROR [--python P…]`, in-process: the
    home's targets and those Pythons."""
    database = Database(home.database_url)
    try:
        return check_bridged_channel(
            home,
            Channels(home, database),
            BridgeOptions(
                requirements=(), channel="main", pythons=pythons, upstream_conda=(mirror.as_uri(),)
            ),
        )
    finally:
        database.close()


def check_is_clean(home: Home, mirror: Path) -> None:
    """`bridge --check` finds nothing uninstallable; what it skipped has no mirror Python."""
    checked = check(home, mirror)
    assert checked.report.verdicts and not checked.report.failures, checked.report.failures
    assert {t.python for t in checked.unchecked} == {"3.10", "3.13"}


def test_a_pure_package_does_not_claim_pythons_its_binary_dependency_lacks(
    tmp_path: Path, upstream_39_312: Path
):
    """jinja2 → markupsafe in small: bridged for 3.11 only, the pure project claims 3.11
    alone (its binary dependency exists for nothing else); bridged again for 3.12, it gets
    a second noarch package of another file name, and both Pythons install it."""
    drop = tmp_path / "drop"
    make_wheel(drop, "purejin", "1.0", requires=["binmark>=1"], requires_python=">=3.8")
    for tag in ("cp311-cp311", "cp312-cp312"):
        make_wheel(drop, "binmark", "1.0", tag=f"{tag}-manylinux_2_17_x86_64")
    home = linux_only_home(tmp_path / "home")

    bridge(home, drop, upstream_39_312, ["3.11"], "purejin")
    [first] = [r for r in records(home).values() if r["name"] == "purejin"]
    assert first["subdir"] == "noarch" and claimed(first, list(MIRROR_PYTHONS)) == ["3.11"]
    assert_installs_where_it_claims(home, upstream_39_312, tmp_path)
    check_is_clean(home, upstream_39_312)

    bridge(home, drop, upstream_39_312, ["3.12"], "purejin")
    both = {k: r for k, r in records(home).items() if r["name"] == "purejin"}
    assert len(both) == 2  # same version, other bound: another build string
    assert sorted(claimed(r, list(MIRROR_PYTHONS)) for r in both.values()) == [["3.11"], ["3.12"]]
    assert_installs_where_it_claims(home, upstream_39_312, tmp_path)
    check_is_clean(home, upstream_39_312)


@pytest.mark.skipif(not (PYENV / PY27).is_dir(), reason="no pyenv Python 2.7.18")
def test_a_python_27_run_claims_no_python_3(tmp_path: Path, upstream_channel: Path):
    """pathlib2 in small: a py2.py3 wheel for `python >=2.7` whose 2.7 closure has a
    backport Python 3 lacks. Bridged for 2.7, nothing claims Python 3, and the check of
    the mirror's 2.7 and 3 is clean."""
    drop = tmp_path / "drop"
    make_wheel(
        drop,
        "oldpath",
        "2.3",
        tag="py2.py3-none-any",
        requires_python=">=2.7",
        requires=['scandirish; python_version < "3.5"'],
    )
    make_wheel(drop, "scandirish", "1.10", tag="py2-none-any")
    home = linux_only_home(tmp_path / "home")
    bridge(home, drop, upstream_channel, ["2.7"], "oldpath")
    mirror = sorted(
        {
            p.name.split("-")[1].rsplit(".", 1)[0]
            for p in (upstream_channel / "linux-64").glob("python-[0-9]*")
        }
    )
    published = records(home)
    assert {r["name"] for r in published.values()} == {"oldpath", "scandirish"}
    for key, record in published.items():
        assert claimed(record, mirror) == ["2.7"], (key, record["depends"])
    checked = check(home, upstream_channel, "2.7")  # the home's Pythons and 2.7
    assert {v.target.python for v in checked.report.verdicts} == {"2.7"}
    assert not checked.report.failures, checked.report.failures


def test_the_pip_view_holds_what_conda_takes_from_the_mirror(tmp_path: Path, upstream_39_312: Path):
    """A project depending on packaging, which the conda mirror carries: conda depends on
    the mirror's, the plan says packaging goes to pip only, and pip on Python 3.12 and 3.9
    downloads the whole closure, packaging included, from the channel's simple index."""
    drop = tmp_path / "drop"
    make_wheel(drop, "uses-packaging", "1.0", requires=["packaging>=20"])
    make_wheel(drop, "packaging", "24.0", requires_python=">=3.8")
    home = new_home(tmp_path / "home")
    Channels(home, Database(home.database_url)).create("main")
    command = [
        "bridge",
        "--home",
        str(home.root),
        "--upstream-pypi",
        str(drop),
        "--upstream-conda",
        upstream_39_312.as_uri(),
        "--platform",
        "linux-64",
        "--python",
        "3.9",
        "--python",
        "3.12",
        "uses-packaging",
    ]
    ran = run_drawbridge(*command, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "│ packaging      │ 24.0    │ pip only │ all platforms: py3.9, 3.12" in ran.stdout, (
        ran.stdout
    )
    assert "pip only (the upstream conda channels carry them): packaging 24.0" in ran.stdout
    assert "upstream conda has it; 1 wheel(s) to the pip view only" in ran.stdout
    assert "2 wheel(s) published to the pip view" in ran.stdout
    assert not any(r["name"] == "packaging" for r in records(home).values())  # conda: upstream

    again = run_drawbridge(*command, timeout=300)
    assert again.returncode == 0 and "its wheels already in the pip view" in again.stdout, (
        again.stdout + again.stderr
    )

    server = start_server(home.root)
    try:
        for python in ("3.12", "3.9"):
            if not pyenv_python(MIRROR_PYTHONS[python]).exists():
                pytest.skip(f"no pyenv Python {MIRROR_PYTHONS[python]}")
            folder = tmp_path / f"download-{python}"
            downloaded = subprocess.run(
                [str(pyenv_python(MIRROR_PYTHONS[python])), "-m", "pip", "download"]
                + ["--no-cache-dir", "--only-binary", ":all:", "-d", str(folder)]
                + ["--index-url", f"{server.url}/main/simple/", "uses-packaging"],
                capture_output=True,
                text=True,
                env=client_env(),
                timeout=300,
            )
            assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
            assert sorted(p.name for p in folder.iterdir()) == [
                "packaging-24.0-py3-none-any.whl",
                "uses_packaging-1.0-py3-none-any.whl",
            ]
    finally:
        server.stop()
