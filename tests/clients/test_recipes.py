"""Recipes end to end: generate, review by role, build with rattler-build, serve; and refusals."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from builders import C_SOURCE, make_conda_tar_bz2, make_sdist
from clients import client_env, solve_and_install
from clients import run_drawbridge
from servers import serve_in_process, start_server
from served_state import conda_index_file, noarch_conda_packages
from upstream import index_fs

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook, RecipeError
from drawbridge.channel.database import Database
from drawbridge.channel.distributions import sha256_file
from drawbridge.channel.home import load_home


def edit_recipe(home: Path, old: str, new: str) -> None:
    path = home / "recipes" / "sdist-demo" / "recipe.yaml"
    text = path.read_text()
    assert old in text, text
    path.write_text(text.replace(old, new, 1))


def test_review_flow_end_to_end(recipe_site: dict, upstream_channel: Path, tmp_path: Path):
    home = recipe_site["home"]
    generated = run_drawbridge("recipe", "generate", "sdist-demo", home=home)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    recipe = (home / "recipes/sdist-demo/recipe.yaml").read_text()
    assert (home / "recipes/sdist-demo/meta.yaml").exists()
    # the reviewer sees where the sdist came from and its sha256, not a server path
    sdist = tmp_path / "drop" / "sdist_demo-1.0.tar.gz"
    assert f"url: {sdist.as_uri()}\n" in recipe and f"sha256: {sha256_file(sdist)}" in recipe
    assert "/cache/" not in recipe and "AddYourGitHubIdHere" not in recipe
    assert "pending" in run_drawbridge("recipe", "list", home=home).stdout

    assert (
        run_drawbridge("build", home=home).stdout.count("built") == 0
    )  # nothing approved, nothing built
    for who in ("reader", "uploader"):
        refused = run_drawbridge(
            "recipe", "approve", "sdist-demo", token=recipe_site[who], home=home
        )
        assert refused.returncode == 1 and "only maintainers and admins" in refused.stderr
    assert (
        run_drawbridge("recipe", "approve", "sdist-demo", home=home).returncode == 1
    )  # no token at all

    approved = run_drawbridge(
        "recipe",
        "approve",
        "sdist-demo",
        "--comment",
        "reviewed the setup",
        token=recipe_site["maintainer"],
        home=home,
    )
    assert approved.returncode == 0 and "approved by mia" in approved.stdout
    sdist.unlink()  # the drop folder emptied: the build reads Drawbridge's cached copy
    built = run_drawbridge("build", home=home)
    assert built.returncode == 0, built.stdout + built.stderr
    (first,) = noarch_conda_packages(home)
    assert first.startswith("sdist-demo-1.0-pyh") and first.endswith("_0.conda")
    assert "built" in run_drawbridge("recipe", "list", home=home).stdout
    assert (
        "[info]" in run_drawbridge("recipe", "log", "sdist-demo", home=home).stdout
    )  # rattler-build's own log

    assert (
        home / "channels/main/pypi/files/sdist_demo-1.0-py3-none-any.whl"
    ).exists()  # the wheel it built
    server = start_server(home)
    try:
        prefix = tmp_path / "env"
        solve_and_install(
            server, upstream_channel, prefix, ["python 3.11.*", "sdist-demo"], tmp_path / "cache"
        )
        result = subprocess.run(
            [str(prefix / "bin/python"), "-c", "import sdist_demo; print(sdist_demo.VALUE)"],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert result.stdout.strip() == "1.0", result.stderr
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                "--target",
                str(tmp_path / "pip"),
                "--index-url",
                f"{server.url}/main/simple/",
                "sdist-demo",
            ],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert pip.returncode == 0 and "sdist_demo-1.0-py3-none-any.whl" in pip.stdout, (
            pip.stdout + pip.stderr
        )
    finally:
        server.stop()

    # Edited after approval: pending again, and the build refuses it until re-approved.
    edit_recipe(home, "number: 0", "number: 1")
    assert "pending" in run_drawbridge("recipe", "list", home=home).stdout
    diff = run_drawbridge("recipe", "diff", "sdist-demo", home=home).stdout
    assert "-  number: 0" in diff and "+  number: 1" in diff
    refused = run_drawbridge("build", "sdist-demo", home=home)
    assert refused.returncode == 1 and "not the approved ones" in refused.stderr
    assert (
        run_drawbridge(
            "recipe", "approve", "sdist-demo", token=recipe_site["maintainer"], home=home
        ).returncode
        == 0
    )
    rebuilt = run_drawbridge("build", "sdist-demo", home=home)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert noarch_conda_packages(home) == [first, first.replace("_0.conda", "_1.conda")]

    audit = run_drawbridge("audit", home=home).stdout
    for action in ("generate", "approve", "built", "edited"):
        assert action in audit
    assert "reviewed the setup" in audit


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("package:", "package: [unclosed", "not valid YAML"),
        ("sha256: ", "sha256: 00", "sha256"),
        (
            "- sdist_demo",
            "- no_such_module",
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
    ],
    ids=["invalid YAML", "source hash mismatch", "failing tests"],
)
def test_bad_recipes_fail_with_a_log_and_publish_nothing(
    recipe_site: dict, old: str, new: str, message: str
):
    home = recipe_site["home"]
    assert run_drawbridge("recipe", "generate", "sdist-demo", home=home).returncode == 0
    edit_recipe(home, old, new)
    assert (
        run_drawbridge(
            "recipe", "approve", "sdist-demo", token=recipe_site["maintainer"], home=home
        ).returncode
        == 0
    )
    failed = run_drawbridge("build", "sdist-demo", home=home)
    assert failed.returncode == 1
    assert "failed" in run_drawbridge("recipe", "list", home=home).stdout
    log = run_drawbridge("recipe", "log", "sdist-demo", home=home).stdout
    # the result names the cause, not rattler-build's "Script failed to execute"
    said = " ".join(failed.stdout.split())
    assert message in said and "Script failed" not in said, failed.stdout + log[-2000:]
    assert noarch_conda_packages(home) == []


def test_a_broken_sdist_is_reported(recipe_site: dict):
    home, drop = recipe_site["home"], recipe_site["tmp"] / "drop"
    broken = make_sdist(drop, "broken-sdist", "1.0")
    broken.write_bytes(broken.read_bytes()[:300])
    result = run_drawbridge("recipe", "generate", "broken-sdist", home=home)
    assert result.returncode == 1
    assert "broken_sdist-1.0.tar.gz: cannot read the sdist" in result.stderr, result.stderr
    assert not (home / "recipes" / "broken-sdist").exists()
    unknown = run_drawbridge("recipe", "generate", "no-such-project", home=home)
    assert unknown.returncode == 1 and "no project 'no-such-project'" in unknown.stderr


def test_curated_recipe_wins(recipe_site: dict, tmp_path: Path):
    curated = tmp_path / "curated"
    (curated / "sdist-demo").mkdir(parents=True)
    (curated / "sdist-demo" / "recipe.yaml").write_text(
        "package:\n  name: sdist-demo\n  version: '1.0'\n# curated by hand\n"
    )
    home = load_home(recipe_site["home"])
    book = RecipeBook(home, Database(home.database_url), curated_dir=curated)
    recipe = book.generate(
        "sdist-demo", "1.0", FolderUpstream(recipe_site["tmp"] / "drop"), default_table(), "tester"
    )
    assert (
        recipe.curated
        and "curated by hand" in recipe.path.read_text()
        and recipe.state == "pending"
    )
    with pytest.raises(RecipeError, match="no recipe 'other'"):
        book.get("other")


def test_bridge_writes_recipes_for_sdist_only_projects(recipe_site: dict):
    home = recipe_site["home"]
    result = run_drawbridge("bridge", "--platform", "linux-64", "sdist-demo", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pending review" in result.stdout
    assert "pending" in run_drawbridge("recipe", "list", home=home).stdout
    assert noarch_conda_packages(home) == []  # nothing is built before a maintainer approves


def test_c_extension_sdist_builds_natively(
    recipe_site: dict, upstream_channel: Path, tmp_path: Path
):
    home = recipe_site["home"]
    # the project is cext-demo (a python package of that name); its C extension is `fastadd`
    setup = (
        b"from setuptools import Extension, setup\n"
        b'setup(name="cext-demo", version="0.1",\n'
        b'      ext_modules=[Extension("fastadd", ["fastadd.c"])])\n'
    )
    make_sdist(
        recipe_site["tmp"] / "drop",
        "cext-demo",
        "0.1",
        members={"cext_demo-0.1/fastadd.c": C_SOURCE.encode(), "cext_demo-0.1/setup.py": setup},
    )
    assert run_drawbridge("recipe", "generate", "cext-demo", home=home).returncode == 0
    assert "noarch" not in (home / "recipes/cext-demo/recipe.yaml").read_text()
    assert (
        run_drawbridge(
            "recipe", "approve", "cext-demo", token=recipe_site["maintainer"], home=home
        ).returncode
        == 0
    )
    built = run_drawbridge("build", "cext-demo", home=home)
    assert built.returncode == 0, built.stdout + built.stderr
    assert (
        "linux-aarch64, osx-64, osx-arm64, win-64"
        in run_drawbridge("recipe", "list", home=home).stdout
    )  # needs builders
    plan = run_drawbridge(
        "bridge",
        "--dry-run",
        "--platform",
        "linux-64",
        "--platform",
        "osx-arm64",
        "cext-demo",
        home=home,
    )
    assert (
        "recipe 0.1: built" in plan.stdout
        and "needs a builder for" in plan.stdout
        and "osx-arm64" in plan.stdout
    )
    records = conda_index_file(home / "channels/main/conda/linux-64")["packages.conda"]
    (record,) = records.values()
    assert "python_abi 3.11.* *_cp311" in record["depends"]
    server = start_server(home)
    try:
        prefix = tmp_path / "env"
        solve_and_install(
            server, upstream_channel, prefix, ["python 3.11.*", "cext-demo"], tmp_path / "cache"
        )
        result = subprocess.run(
            [str(prefix / "bin/python"), "-c", "import fastadd; print(fastadd.add(20, 22))"],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert result.stdout.strip() == "42", result.stderr
    finally:
        server.stop()


def test_the_review_notes_name_the_c_libraries_and_whether_a_mirror_has_them(recipe_site: dict):
    """A second conda mirror carries libpq, none carries a MySQL client: the notes say so in
    the recipe, `recipe show` and the review page, before anything is built."""
    home, mirror = recipe_site["home"], recipe_site["tmp"] / "libmirror"
    make_conda_tar_bz2(mirror / "linux-64", "libpq", "17.4", "h0_0", "linux-64")
    asyncio.run(index_fs(mirror))
    config = (home / "drawbridge.toml").read_text()
    config = config.replace("upstream_conda = [", f'upstream_conda = ["{mirror.as_uri()}", ')
    (home / "drawbridge.toml").write_text(config)
    setup = (
        b"import subprocess\nfrom setuptools import Extension, setup\n"
        b'subprocess.run(["pg_config", "--includedir"])\n'
        b'setup(name="dbdriver", version="0.1",\n'
        b'      ext_modules=[Extension("fastadd", ["fastadd.c"])])\n'
    )
    source = "#include <libpq-fe.h>\n#include <mysql.h>\n" + C_SOURCE
    make_sdist(
        recipe_site["tmp"] / "drop",
        "dbdriver",
        "0.1",
        members={"dbdriver-0.1/fastadd.c": source.encode(), "dbdriver-0.1/setup.py": setup},
    )
    generated = run_drawbridge("recipe", "generate", "dbdriver", home=home)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    recipe = (home / "recipes/dbdriver/recipe.yaml").read_text()
    assert (
        "# REVIEW: C library: the build looks for PostgreSQL's client library, libpq "
        "(setup.py: pg_config; fastadd.c: <libpq-fe.h>). A conda channel here carries libpq: "
        "add libpq to requirements.host.\n"
    ) in recipe
    assert (
        "# REVIEW: C library: the build looks for the MySQL/MariaDB client library "
        "(fastadd.c: <mysql.h>), and no conda channel here carries a package that provides it "
        "(conda-forge's: mysql-devel, mysql-connector-c, libmysqlclient, mariadb-connector-c)"
    ) in recipe
    shown = " ".join(run_drawbridge("recipe", "show", "dbdriver", home=home).stdout.split())
    assert "notes for the reviewer - C library: the build looks for PostgreSQL's" in shown
    with serve_in_process(home) as app:
        page = app.get("/ui/recipes/dbdriver").text
    assert (
        "<h2>Notes for the reviewer</h2><ul class=notes><li>C library: the build looks for " in page
    )
    assert "A conda channel here carries libpq" in page and "mysql-connector-c" in page
