"""Five real sdist-only projects from pypi.org: generate (grayskull with no network), approve,
build for Python 3.9 and 3.12, install with py-rattler and with pip, import (online).

jieba (no licence file in its sdist: grayskull once asked api.github.com for one), crcmod
(a C extension grayskull calls noarch), sgmllib3k (no licence file; not noarch, but pinned
to python_min by grayskull, it once built for 3.9 alone), docopt and jsmin (setup.py projects that
need `wheel` beside Python 3.9's setuptools). None of them has ever had a wheel on PyPI.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML
from clients import client_env, pyenv_python, solve_and_install
from clients import run_drawbridge
from databases import new_home
from servers import start_server

from drawbridge.bridge.recipes.grayskull_offline import network_namespace
from drawbridge.bridge.recipes.compose import review_notes
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token
from served_state import conda_index_file

pytestmark = pytest.mark.online
PYPI = "https://pypi.org/simple/"
#: project -> (version, the module to import, a line that uses it and prints "ok")
PROJECTS = {
    "jieba": ("0.42.1", "import jieba; assert '北京' in jieba.lcut('我来到北京清华大学')"),
    "crcmod": (
        "1.7",
        "import crcmod, crcmod._crcfunext; assert crcmod.mkCrcFun(0x104c11db7)(b'x')",
    ),
    "sgmllib3k": ("1.0.0", "import sgmllib; sgmllib.SGMLParser().feed('<a>x</a>')"),
    "docopt": ("0.6.2", "import docopt; assert docopt.docopt('Usage: p [-v]', ['-v'])['-v']"),
    "jsmin": ("3.0.1", "import jsmin; assert jsmin.jsmin('var  a = 1 ;') == 'var a=1;'"),
}
PYTHONS = {"3.9": "3.9.18", "3.12": "3.12.1"}


def test_no_project_here_has_a_wheel_on_pypi():
    for project in PROJECTS:
        releases = httpx.get(f"https://pypi.org/pypi/{project}/json", timeout=30).json()
        files = [f for release in releases["releases"].values() for f in release]
        assert files and not any(f["packagetype"] == "bdist_wheel" for f in files), project


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream_39_312: Path) -> Path:
    """A home building for Python 3.9 and 3.12 with the five recipes generated, approved
    and built."""
    assert network_namespace(), "grayskull must run in a network namespace for this test"
    root = tmp_path_factory.mktemp("online-recipes")
    home = new_home(root / "home")
    config = home.config_path.read_text()
    config = config.replace(
        "upstream_conda = []", f'upstream_conda = ["{upstream_39_312.as_uri()}"]'
    )
    config = config.replace(
        'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.9", "3.12"]'
    )
    home.config_path.write_text(config.replace("maintainers = []", 'maintainers = ["mia"]'))
    database = Database(home.database_url)
    Channels(home, database).create("main")
    token = create_token(database, "mia", Role.maintainer)
    database.close()
    for project, (version, _) in PROJECTS.items():
        generated = run_drawbridge(
            "recipe", "generate", f"{project}=={version}", "--upstream-pypi", PYPI, home=home.root
        )
        assert generated.returncode == 0, generated.stdout + generated.stderr
        approved = run_drawbridge("recipe", "approve", project, token=token, home=home.root)
        assert approved.returncode == 0, approved.stdout + approved.stderr
    result = run_drawbridge("build", home=home.root)
    assert result.returncode == 0, result.stdout + result.stderr
    return home.root


def test_the_recipes_say_what_a_reviewer_needs(built: Path):
    for project, (version, _) in PROJECTS.items():
        recipe = (built / "recipes" / project / "recipe.yaml").read_text()
        assert "url: https://files.pythonhosted.org/packages/" in recipe, recipe
        assert f"/{project}-{version}.tar.gz\n" in recipe and "/cache/" not in recipe
        assert "recipe-maintainers:\n  - mia\n" in recipe
    jieba = (built / "recipes/jieba/recipe.yaml").read_text()
    assert "# REVIEW: licence file missing" in jieba and "license: MIT" in jieba
    crcmod = (built / "recipes/crcmod/recipe.yaml").read_text()
    assert "noarch" not in YAML(typ="safe").load(crcmod)["build"]
    assert "# REVIEW: built per platform and Python" in crcmod


def test_each_builds_for_both_pythons(built: Path):
    """noarch recipes once; per-Python ones (crcmod's C; sgmllib3k, which grayskull did not
    call noarch) once for each Python, each pinned to its ABI."""
    conda = built / "channels/main/conda"
    noarch = conda_index_file(conda / "noarch")["packages.conda"]
    native = conda_index_file(conda / "linux-64")["packages.conda"]
    assert sorted(r["name"] for r in noarch.values()) == ["docopt", "jieba", "jsmin"]
    abis = sorted(
        (r["name"], next(d for d in r["depends"] if d.startswith("python_abi")))
        for r in native.values()
    )
    assert abis == [
        (name, abi)
        for name in ("crcmod", "sgmllib3k")
        for abi in ("python_abi 3.12.* *_cp312", "python_abi 3.9.* *_cp39")
    ]


@pytest.mark.parametrize("python", PYTHONS)
def test_the_conda_packages_and_the_wheels_install_and_import(
    built: Path, upstream_39_312: Path, tmp_path: Path, python: str
):
    server = start_server(built)
    try:
        prefix = tmp_path / "conda-env"
        solve_and_install(
            server, upstream_39_312, prefix, [f"python {python}.*", *PROJECTS], tmp_path / "pkgs"
        )
        for project, (_, code) in PROJECTS.items():
            run = subprocess.run(
                [str(prefix / "bin/python"), "-c", code],
                capture_output=True,
                text=True,
                env=client_env(),
            )
            assert run.returncode == 0, (project, run.stderr)
        target = tmp_path / "pip-target"
        pip = subprocess.run(
            [
                str(pyenv_python(PYTHONS[python])),
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                "--only-binary",
                ":all:",
                "--target",
                str(target),
                "--index-url",
                f"{server.url}/main/simple/",
                *PROJECTS,
            ],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert pip.returncode == 0, pip.stdout + pip.stderr
        for project, (_, code) in PROJECTS.items():
            run = subprocess.run(
                [str(pyenv_python(PYTHONS[python])), "-c", code],
                capture_output=True,
                text=True,
                env=client_env(PYTHONPATH=str(target)),
            )
            assert run.returncode == 0, (project, run.stderr)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("requirement", "library", "evidence", "package"),
    [
        (
            "mysqlclient==2.3.2",
            "the MySQL/MariaDB client library",
            "setup.py: pkg-config mysqlclient mariadb libmariadb perconaserverclient; "
            "src/MySQLdb/_mysql.c: <mysql.h>, <mysqld_error.h>",
            "mysql-connector-c",
        ),
        ("psycopg2==2.9.13", "PostgreSQL's client library, libpq", "setup.py: pg_config", "libpq"),
    ],
    ids=["mysqlclient", "psycopg2"],
)
def test_the_review_notes_name_the_c_library_before_any_build(
    tmp_path: Path,
    upstream_39_312: Path,
    requirement: str,
    library: str,
    evidence: str,
    package: str,
):
    """What made mysqlclient's build fail, said to the reviewer: the C library its build
    looks for, the conda-forge packages that provide it, and that no channel here has one."""
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    home.config_path.write_text(
        config.replace("upstream_conda = []", f'upstream_conda = ["{upstream_39_312.as_uri()}"]')
    )
    Channels(home, Database(home.database_url)).create("main")
    generated = run_drawbridge(
        "recipe", "generate", requirement, "--upstream-pypi", PYPI, home=home.root
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    name = requirement.split("==")[0]
    notes = review_notes((home.root / "recipes" / name / "recipe.yaml").read_text())
    (note,) = [note for note in notes if note.startswith("C library")]
    assert note.startswith(f"C library: the build looks for {library} ("), note
    assert evidence in note and "no conda channel here carries" in note and package in note
