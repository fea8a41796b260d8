"""Bridging real projects from pypi.org (marked online: skipped when pypi.org is unreachable)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conda_archive import conda_json, conda_members
from clients import BIN, client_env, pyenv_python, run_drawbridge, solve_and_install
from servers import Server, start_server

from databases import new_home
from drawbridge.bridge.installable.claims import claims
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
from drawbridge.bridge.wheels.repack import repack
from drawbridge.bridge.translate.targets import Target, best_wheel
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from served_state import conda_index_file

pytestmark = pytest.mark.online
PYPI = "https://pypi.org/simple/"
SUBDIRS = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    loaded = new_home(tmp_path / "home")
    Channels(loaded, Database(loaded.database_url)).create("main")
    return loaded.root


def bridge(home: Path, *args: str) -> subprocess.CompletedProcess:
    return run_drawbridge(
        "bridge", "--home", str(home), "--upstream-pypi", PYPI, *args, timeout=600
    )


def _linux_only(home: Path) -> None:
    """Configure `home` for linux-64 alone, so that a linux-64 run makes noarch packages."""
    config = home / "drawbridge.toml"
    every = '"linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"'
    assert every in config.read_text()
    config.write_text(config.read_text().replace(every, '"linux-64"'))


def _check(home: Path, mirror: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "drawbridge"), "bridge", "--home", str(home), "--check"]
        + ["--upstream-conda", mirror.as_uri(), *args],
        capture_output=True,
        text=True,
        env=client_env(COLUMNS="250"),
        timeout=600,
    )


def test_requests_with_its_closure(home: Path):
    _linux_only(home)  # a linux-64 run covers the home: pure wheels become noarch
    result = bridge(
        home, "--platform", "linux-64", "--python", "3.11", "--python", "3.12", "requests"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    repodata = conda_index_file(home / "channels/main/conda/noarch")
    names = {record["name"] for record in repodata["packages.conda"].values()}
    assert {"requests", "idna", "urllib3", "certifi"} <= names
    requests = next(r for r in repodata["packages.conda"].values() if r["name"] == "requests")
    assert any(d.startswith("urllib3") for d in requests["depends"]) and any(
        d.startswith("python ") for d in requests["depends"]
    )


def test_binary_project_for_every_subdir(home: Path):
    result = bridge(
        home,
        *[a for s in SUBDIRS for a in ("--platform", s)],
        "--python",
        "3.11",
        "--python",
        "3.12",
        "markupsafe",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for subdir in SUBDIRS:
        records = conda_index_file(home / "channels/main/conda" / subdir)["packages.conda"]
        assert len(records) == 2, (subdir, list(records))
        for record in records.values():
            assert record["name"] == "markupsafe" and record["subdir"] == subdir
            pins = [d for d in record["depends"] if d.startswith(("python ", "python_abi"))]
            assert len(pins) == 2 and any("_cp311" in p or "_cp312" in p for p in pins)


@pytest.mark.parametrize(
    ("subdir", "site", "extension"),
    [
        ("win-64", "Lib/site-packages/markupsafe/", ".pyd"),
        ("osx-arm64", "lib/python3.12/site-packages/markupsafe/", ".so"),
    ],
)
def test_layout_of_real_wheels(tmp_path: Path, subdir: str, site: str, extension: str):
    with SimpleIndexUpstream(PYPI, DownloadCache(tmp_path / "cache")) as upstream:
        files = [f for f in upstream.files("markupsafe") if f.version == "3.0.2"]
        target = Target(subdir, "3.12")
        chosen = next(
            f for f in files if f.filename == best_wheel([f.filename for f in files], target)
        )
        package = repack(upstream.fetch(chosen), target, tmp_path / "out", default_table(), [])
        members = conda_members(package.path)
        assert any(name.startswith(site) and name.endswith(extension) for name in members), sorted(
            members
        )
        assert (
            members[f"{site.rsplit('/', 2)[0]}/MarkupSafe-3.0.2.dist-info/INSTALLER"] == b"conda\n"
        )
        assert conda_json(package.path, "info/index.json")["subdir"] == subdir


def test_num2words_script_runs_from_its_environment(
    server: Server, upstream_channel: Path, tmp_path: Path
):
    """num2words 0.5.14 ships its command as a `#!python` script in `.data/scripts/` (a
    docopt script: its docstring is its usage). Repacked noarch with docopt (an sdist only,
    built into a wheel by pip), installed by py-rattler, the command runs."""
    with SimpleIndexUpstream(PYPI, DownloadCache(tmp_path / "cache")) as upstream:
        chosen = next(
            f
            for f in upstream.files("num2words")
            if f.filename == "num2words-0.5.14-py3-none-any.whl"
        )
        num2words = upstream.fetch(chosen)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--index-url", PYPI]
        + ["-w", str(tmp_path / "wheels"), "docopt==0.6.2"],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    docopt = next((tmp_path / "wheels").glob("docopt-0.6.2-*.whl"))
    names, out = default_table(), tmp_path / "out"
    packages = [
        repack(num2words, None, out, names, ["python >=3.7", "docopt >=0.6.2"]),
        repack(docopt, None, out, names, ["python >=3.7"]),
    ]
    server.publish(*(package.path for package in packages))
    prefix = tmp_path / "env"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    solve_and_install(
        server, upstream_channel, prefix, [f"python {python}.*", "num2words"], tmp_path / "pkgs"
    )
    ran = subprocess.run(
        [str(prefix / "bin" / "num2words"), "--lang", "fr", "42"],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=60,
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "quarante-deux"), ran.stderr
    usage = subprocess.run(
        [str(prefix / "bin" / "num2words"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 0 and usage.stdout.startswith("num2words: convert numbers")


def test_jinja2_for_311_claims_no_python_markupsafe_lacks(home: Path, upstream_39_312: Path):
    """Issue 17: jinja2 is pure, markupsafe binary. Bridged for 3.11 only, with a mirror
    holding 3.9, 3.11 and 3.12, jinja2 claims 3.11 alone, and `bridge --check` is clean."""
    _linux_only(home)
    mirror = ["--upstream-conda", upstream_39_312.as_uri()]
    result = bridge(home, *mirror, "--platform", "linux-64", "--python", "3.11", "jinja2")
    assert result.returncode == 0, result.stdout + result.stderr
    repodata = conda_index_file(home / "channels/main/conda/noarch")
    [jinja2] = [r for r in repodata["packages.conda"].values() if r["name"] == "jinja2"]
    pythons = [
        p
        for p in ("3.9", "3.11", "3.12")
        if claims("noarch", jinja2["depends"], Target("linux-64", p))
    ]
    assert pythons == ["3.11"], jinja2["depends"]
    checked = _check(home, upstream_39_312)
    assert checked.returncode == 0 and ", 0 failing" in checked.stdout, (
        checked.stdout + checked.stderr
    )


def test_a_27_run_claims_no_python_3(home: Path, upstream_channel: Path):
    """Issue 17: mypy-extensions 0.4.3 is `py2.py3` with no Requires-Python; on 2.7 it
    needs `typing`, a `py2` wheel. Bridged for 2.7, it claims no Python 3, so nothing fails
    on the mirror's Python 3. (tqdm 4.64.1, the issue's example, is refused on 2.7 here:
    its 2.7 closure needs scandir, which has no wheel, only a recipe.)"""
    if not list((upstream_channel / "linux-64").glob("python-2.7.*")):
        pytest.skip("no pyenv Python 2.7 in the test upstream")
    _linux_only(home)
    mirror = ["--upstream-conda", upstream_channel.as_uri()]
    wanted = "mypy-extensions==0.4.3"
    result = bridge(home, *mirror, "--platform", "linux-64", "--python", "2.7", wanted)
    assert result.returncode == 0, result.stdout + result.stderr
    repodata = conda_index_file(home / "channels/main/conda/noarch")
    for record in repodata["packages.conda"].values():  # mypy-extensions and typing
        pythons = [
            p for p in ("2.7", "3.11") if claims("noarch", record["depends"], Target("linux-64", p))
        ]
        assert pythons == ["2.7"], record
    checked = _check(home, upstream_channel, "--python", "2.7", "--python", "3.11")
    assert checked.returncode == 0 and ", 0 failing" in checked.stdout, (
        checked.stdout + checked.stderr
    )
    assert "Installability: 0 checks" not in checked.stdout


def test_pip_downloads_build_with_packaging_from_the_mirror_side(
    home: Path, upstream_39_312: Path, tmp_path: Path
):
    """Issue 17: the conda mirror carries packaging, so conda depends on it; pip still
    finds it in the channel's simple index: `pip download build` works on 3.12 and 3.9."""
    args = ["--upstream-conda", upstream_39_312.as_uri(), "--platform", "linux-64"]
    result = bridge(home, *args, "--python", "3.9", "--python", "3.12", "build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip only (the upstream conda channels carry them): packaging" in result.stdout
    server = start_server(home)
    try:
        for version in ("3.12.1", "3.9.18"):
            folder = tmp_path / f"from-{version}"
            downloaded = subprocess.run(
                [str(pyenv_python(version)), "-m", "pip", "download", "--no-cache-dir"]
                + ["--only-binary", ":all:", "-d", str(folder)]
                + ["--index-url", f"{server.url}/main/simple/", "build"],
                capture_output=True,
                text=True,
                env=client_env(),
                timeout=300,
            )
            assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
            got = {p.name.split("-")[0] for p in folder.iterdir()}
            assert {"build", "packaging", "pyproject_hooks"} <= got, got
    finally:
        server.stop()
