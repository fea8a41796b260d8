"""Recipes build for every Python of drawbridge.toml (here 3.9 and 3.12), offline, against
the stand-in upstream: one tiny sdist per behaviour.

- a setup.py project builds once (noarch, for Python 3.9, whose setuptools 67 has no
  bdist_wheel of its own: `wheel` is in host), and installs into 3.9 and 3.12;
- a pyproject project builds with its own backend (flit-core), not setuptools;
- a C extension builds once per Python; a reviewer who wrongly makes it noarch gets a
  per-platform build, told so, not a failure;
- a C extension that needs a C library nothing provides, and a setuptools that exists for
  3.12 only (mysqlclient's two failures): the review notes name the library before the
  build, and the failed build's result names it and the missing setuptools.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import C_SOURCE, make_sdist
from clients import client_env, install_from_channels
from clients import run_drawbridge
from databases import new_home
from servers import serve_in_process
from served_state import conda_index_file
from ruamel.yaml import YAML

from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

PYTHONS = {"3.9": "3.9.18", "3.12": "3.12.1"}


@pytest.fixture
def site(tmp_path: Path, upstream_39_312: Path) -> dict:
    """A home building for Python 3.9 and 3.12 on linux-64, maintained by mia."""
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    for old, new in (
        ("upstream_conda = []", f'upstream_conda = ["{upstream_39_312.as_uri()}"]'),
        ('pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.9", "3.12"]'),
        ("upstream_pypi = ", f'upstream_pypi = "{tmp_path / "drop"}"\n# was: '),
        ("maintainers = []", 'maintainers = ["mia"]'),
    ):
        assert old in config
        config = config.replace(old, new)
    home.config_path.write_text(config)
    database = Database(home.database_url)
    Channels(home, database).create("main")
    token = create_token(database, "mia", Role.maintainer)
    database.close()
    return {"home": home.root, "drop": tmp_path / "drop", "token": token, "tmp": tmp_path}


def generate_approve_build(site: dict, name: str) -> subprocess.CompletedProcess:
    home = site["home"]
    generated = run_drawbridge("recipe", "generate", name, home=home)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    approve(site, name)
    return run_drawbridge("build", name, home=home)


def approve(site: dict, name: str) -> None:
    approved = run_drawbridge("recipe", "approve", name, token=site["token"], home=site["home"])
    assert approved.returncode == 0, approved.stdout + approved.stderr


def records(home: Path, subdir: str) -> dict[str, dict]:
    return conda_index_file(home / "channels/main/conda" / subdir)["packages.conda"]


def runs_in(site: dict, upstream: Path, python: str, spec: str, code: str) -> str:
    """Install `spec` with py-rattler beside Python `python`, run `code`; its output."""
    prefix = site["tmp"] / f"env-{python}-{spec.split()[0]}"
    install_from_channels(
        [site["home"] / "channels/main/conda", upstream],
        [f"python {python}.*", spec],
        prefix,
        site["tmp"] / "pkgs",
    )
    result = subprocess.run(
        [str(prefix / "bin/python"), "-c", code], capture_output=True, text=True, env=client_env()
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def c_extension_sdist(
    site: dict, name: str, version: str, preamble: str = "", c_preamble: str = "", **members: bytes
) -> None:
    """An sdist of `name` building the C extension `fastadd` (its setup.py starts with
    `preamble`, its source with `c_preamble`; `members` more files, by name) in the site's
    drop folder."""
    setup = (
        f"{preamble}from setuptools import Extension, setup\n"
        f'setup(name="{name}", version="{version}",\n'
        '      ext_modules=[Extension("fastadd", ["fastadd.c"])])\n'
    )
    folder = f"{name.replace('-', '_')}-{version}"
    files = {"fastadd.c": (c_preamble + C_SOURCE).encode(), "setup.py": setup.encode(), **members}
    make_sdist(site["drop"], name, version, members={f"{folder}/{n}": d for n, d in files.items()})


def test_a_setup_py_project_builds_once_with_wheel_beside_old_setuptools(
    site: dict, upstream_39_312: Path
):
    # no [build-system]: pip's legacy path, which calls bdist_wheel
    make_sdist(site["drop"], "legacy-demo", "1.0", members={"legacy_demo-1.0/pyproject.toml": b""})
    home = site["home"]
    assert run_drawbridge("recipe", "generate", "legacy-demo", home=home).returncode == 0
    recipe = (home / "recipes/legacy-demo/recipe.yaml").read_text()
    assert "  - setuptools\n  - wheel\n" in recipe and "noarch: python" in recipe
    assert "recipe-maintainers:\n  - mia\n" in recipe and "no maintainers" not in recipe

    # what the reviewer sees: the licence note, in the page's recipe (make_sdist ships none)
    with serve_in_process(home) as app:
        page = app.get("/ui/recipes/legacy-demo").text
    assert "# REVIEW: licence file missing" in page

    # without wheel, setuptools 67 (Python 3.9's) cannot build: the failure the issue saw
    path = home / "recipes/legacy-demo/recipe.yaml"
    path.write_text(recipe.replace("  - wheel\n", ""))
    approve(site, "legacy-demo")
    failed = run_drawbridge("build", "legacy-demo", home=home)
    log = run_drawbridge("recipe", "log", "legacy-demo", home=home).stdout
    assert failed.returncode == 1 and "invalid command 'bdist_wheel'" in log, log[-3000:]
    # the newest setuptools upstream for Python 3.9, in rattler-build's host table
    assert re.search(r"setuptools\s*┆\s*67\.6\.1\s", log), log[-3000:]

    path.write_text(recipe)
    approve(site, "legacy-demo")
    built = run_drawbridge("build", "legacy-demo", home=home)
    assert built.returncode == 0, built.stdout + built.stderr
    assert list(records(home, "linux-64")) == []
    (package,) = records(home, "noarch").values()  # once, for everyone
    assert "python >=3.9" in package["depends"]
    loaded = new_home(home)
    (row,) = Channels(loaded, Database(loaded.database_url)).conda_packages("main")  # the sdist
    assert (row.made_how, row.made_from) == ("recipe", "legacy_demo-1.0.tar.gz")
    for python in PYTHONS:
        version = runs_in(
            site,
            upstream_39_312,
            python,
            "legacy-demo",
            "import legacy_demo, sys; print(legacy_demo.VALUE, sys.version_info[:2])",
        )
        assert version == f"1.0 {tuple(map(int, python.split('.')))}"


def test_a_pyproject_backend_builds_with_that_backend(site: dict, upstream_39_312: Path):
    pyproject = (
        b'[build-system]\nrequires = ["flit_core >=3.2,<5"]\n'
        b'build-backend = "flit_core.buildapi"\n\n'
        b'[project]\nname = "flit-demo"\nversion = "2.0"\ndescription = "flit demo"\n'
    )
    make_sdist(
        site["drop"],
        "flit-demo",
        "2.0",
        members={"flit_demo-2.0/pyproject.toml": pyproject},
    )
    built = generate_approve_build(site, "flit-demo")
    recipe = (site["home"] / "recipes/flit-demo/recipe.yaml").read_text()
    host = YAML(typ="safe").load(recipe)["requirements"]["host"]
    assert {item.split()[0] for item in host} == {"python", "pip", "flit-core"}, host
    assert built.returncode == 0, built.stdout + built.stderr
    assert runs_in(site, upstream_39_312, "3.12", "flit-demo", "import flit_demo; print(1)") == "1"


def test_a_c_extension_builds_per_python_even_when_approved_as_noarch(
    site: dict, upstream_39_312: Path
):
    c_extension_sdist(site, "cext-two", "0.2")
    home = site["home"]
    assert run_drawbridge("recipe", "generate", "cext-two", home=home).returncode == 0
    path = home / "recipes/cext-two/recipe.yaml"
    recipe = path.read_text()
    assert "noarch" not in recipe and "${{ compiler('c') }}" in recipe
    # a reviewer who decides it is pure Python: the build finds out, and builds it natively
    path.write_text(
        recipe.replace("build:\n  number: 0\n", "build:\n  number: 0\n  noarch: python\n")
    )
    approve(site, "cext-two")
    built = run_drawbridge("build", "cext-two", home=home)
    assert built.returncode == 0, built.stdout + built.stderr
    log = run_drawbridge("recipe", "log", "cext-two", home=home).stdout
    assert "# built per platform and Python: the noarch recipe's build made" in log
    assert "note" in built.stdout and "cp39" in built.stdout  # the wheel it made, named
    assert list(records(home, "noarch")) == []
    abis = sorted(
        next(d for d in record["depends"] if d.startswith("python_abi"))
        for record in records(home, "linux-64").values()
    )
    assert abis == ["python_abi 3.12.* *_cp312", "python_abi 3.9.* *_cp39"]
    wheels = sorted(p.name for p in (home / "channels/main/pypi/files").glob("cext_two-*.whl"))
    assert [w.split("-")[2] for w in wheels] == ["cp312", "cp39"]
    for python in PYTHONS:
        answer = runs_in(
            site, upstream_39_312, python, "cext-two", "import fastadd; print(fastadd.add(40, 2))"
        )
        assert answer == "42"


def test_a_build_failing_for_one_python_still_publishes_the_others(
    site: dict, upstream_39_312: Path
):
    """A C extension whose setup.py refuses Python 3.9: the 3.12 package is published and
    installs; the result fails naming 3.9; a retry of the same bytes publishes nothing twice."""
    c_extension_sdist(
        site,
        "half-py",
        "0.3",
        "import sys\nif sys.version_info < (3, 10):\n"
        "    raise SystemExit('half-py: needs Python 3.10')\n",
    )
    home = site["home"]
    built = generate_approve_build(site, "half-py")
    assert built.returncode == 1, built.stdout + built.stderr
    said = " ".join(built.stdout.split())
    assert "build failed for python 3.9 (built for python 3.12)" in said, built.stdout
    (record,) = records(home, "linux-64").values()
    assert "python_abi 3.12.* *_cp312" in record["depends"]
    wheels = [p.name for p in (home / "channels/main/pypi/files").glob("half_py-*.whl")]
    assert [w.split("-")[2] for w in wheels] == ["cp312"]
    assert "failed" in run_drawbridge("recipe", "list", home=home).stdout
    answer = runs_in(
        site, upstream_39_312, "3.12", "half-py", "import fastadd; print(fastadd.add(40, 2))"
    )
    assert answer == "42"

    again = run_drawbridge(
        "build", "half-py", home=home
    )  # the failed recipe is retried: same outcome
    assert again.returncode == 1 and "refused" not in again.stdout, again.stdout
    assert "build failed for python 3.9" in " ".join(again.stdout.split())
    assert len(records(home, "linux-64")) == 1


def test_a_missing_c_library_is_named_before_and_after_the_build(site: dict):
    """libfoo: its setup.py asks pkg-config, its source includes <foo.h>; nothing provides
    either. It also needs setuptools >=77, which the upstream has for Python 3.12 only."""
    pyproject = (
        b'[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    c_extension_sdist(
        site,
        "needs-foo",
        "0.4",
        'import subprocess\nsubprocess.run("pkg-config --cflags libfoo", shell=True)\n',
        "#include <foo.h>\n",
        **{"pyproject.toml": pyproject},
    )
    home = site["home"]
    assert run_drawbridge("recipe", "generate", "needs-foo", home=home).returncode == 0
    shown = " ".join(run_drawbridge("recipe", "show", "needs-foo", home=home).stdout.split())
    for need in ("pkg-config libfoo (setup.py)", "<foo.h> (fastadd.c)"):
        assert f"C library: the build looks for {need}, which the sdist does not ship" in shown

    approve(site, "needs-foo")
    built = run_drawbridge("build", "needs-foo", home=home)
    assert built.returncode == 1, built.stdout + built.stderr
    (said,) = [line for line in built.stdout.splitlines() if line.startswith("needs-foo failed")]
    assert "build failed for python 3.9, python 3.12: python 3.9: cannot make the build's " in said
    assert "setuptools >=77 has no build for python 3.9 in any channel" in said, said
    assert "| python 3.12: " in said and "fatal error: foo.h: No such file or directory" in said
    if shutil.which("pkg-config"):  # the build runs this machine's pkg-config
        assert "Package libfoo was not found in the pkg-config search path" in said
    assert "Script failed" not in said and "PyRattlerBuildError" not in said
    # kept: the audit, `recipe show` and the review page say why the last build failed
    assert "fatal error: foo.h" in run_drawbridge("audit", home=home).stdout
    shown = " ".join(run_drawbridge("recipe", "show", "needs-foo", home=home).stdout.split())
    assert "last build failed: build failed for python 3.9, python 3.12" in shown
    with serve_in_process(home) as app:
        page = app.get("/ui/recipes/needs-foo").text
    assert "last build failed: build failed for python 3.9" in page and "foo.h" in page
