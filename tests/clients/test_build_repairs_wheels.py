"""`drawbridge build` publishes the wheel pip users can install, not the one the build made.

A C extension (`uses-tiny`) links `libdbtiny`, a small library built here and packed as a
stand-in conda package the recipe's host requirements name, as a conda-forge library
would be. After the build, only the repaired wheel is in the pip view: `auditwheel show`
finds a manylinux tag within the baseline, and it installs with the pip of a pyenv Python
into a fresh venv and imports where libdbtiny is nowhere on the system; the wheel as the
build made it (kept in the build cache) installs but does not import.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builders import make_sdist
from clients import BIN, PYENV, client_env, venv_pip_install
from clients import run_drawbridge as drawbridge
from databases import new_home
from upstream import index_fs

from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

PYTHON = "3.11.7"
EXTENSION = b"""
#include <Python.h>
#include <dbtiny.h>
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(dbtiny_answer());
}
static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&module); }
"""
# links the library from the host environment (sys.prefix when pip builds there), with its
# RUNPATH, as conda-forge's compiler flags do
SETUP = b"""import sys
from setuptools import Extension, setup
setup(name="uses-tiny", version="0.1", ext_modules=[Extension(
    "tinyext", ["tinyext.c"], libraries=["dbtiny"],
    include_dirs=[sys.prefix + "/include"], library_dirs=[sys.prefix + "/lib"],
    runtime_library_dirs=[sys.prefix + "/lib"])])
"""


def libdbtiny_channel(folder: Path) -> Path:
    """A file channel holding `libdbtiny` 1.0 for linux-64: lib/libdbtiny.so, its header."""
    import rattler_build

    staging = folder / "staging"
    (staging / "lib").mkdir(parents=True)
    (staging / "include").mkdir()
    (staging / "include/dbtiny.h").write_text("int dbtiny_answer(void);\n")
    (folder / "dbtiny.c").write_text("int dbtiny_answer(void) { return 42; }\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-Wl,-soname,libdbtiny.so", "-o",
         str(staging / "lib/libdbtiny.so"), str(folder / "dbtiny.c")],
        check=True,
    )  # fmt: skip
    channel = folder / "channel"
    (channel / "noarch").mkdir(parents=True)
    rattler_build.assemble_package(
        name="libdbtiny",
        version="1.0",
        target_platform="linux-64",
        build_string="h0_0",
        output_dir=channel / "linux-64",
        files_dir=staging,
        summary="Stand-in: a small C library a C extension links",
        license="MIT",
        compression_level=1,
        detect_prefix=False,
    )
    asyncio.run(index_fs(channel, force=True))
    shutil.rmtree(staging)
    return channel


def test_the_pip_view_gets_the_repaired_wheel(tmp_path: Path, upstream_39_312: Path):
    if shutil.which("gcc") is None or not (PYENV / PYTHON).is_dir():
        pytest.skip(f"needs gcc and pyenv Python {PYTHON}")
    library = libdbtiny_channel(tmp_path / "libdbtiny")
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    channels = f'["{upstream_39_312.as_uri()}", "{library.as_uri()}"]'
    for old, new in (
        ("upstream_conda = []", f"upstream_conda = {channels}"),
        ('pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.11"]'),
        ("upstream_pypi = ", f'upstream_pypi = "{tmp_path / "drop"}"\n# was: '),
    ):
        assert old in config
        config = config.replace(old, new)
    home.config_path.write_text(config)
    database = Database(home.database_url)
    Channels(home, database).create("main")
    token = create_token(database, "mia", Role.maintainer)
    database.close()
    members = {"tinyext.c": EXTENSION, "setup.py": SETUP}
    make_sdist(
        tmp_path / "drop",
        "uses-tiny",
        "0.1",
        members={f"uses_tiny-0.1/{n}": d for n, d in members.items()},
    )

    root = home.root
    generated = drawbridge(root, "recipe", "generate", "uses-tiny")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    path = root / "recipes/uses-tiny/recipe.yaml"
    recipe = path.read_text()
    # the reviewer adds the library the notes name, to host (and run, for the conda package)
    assert "  host:\n" in recipe and "  run:\n" in recipe, recipe
    recipe = recipe.replace("  host:\n", "  host:\n  - libdbtiny\n").replace(
        "  run:\n", "  run:\n  - libdbtiny\n"
    )
    path.write_text(recipe)
    approved = drawbridge(root, "recipe", "approve", "uses-tiny", token=token)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    built = drawbridge(root, "build", "uses-tiny")
    log = drawbridge(root, "recipe", "log", "uses-tiny").stdout
    assert built.returncode == 0, built.stdout + log[-4000:]
    # no cross compiler in these channels: linux-aarch64 still waits for a builder
    assert "linux-aarch64" in built.stdout and "cross-compiled" not in built.stdout

    (wheel,) = (root / "channels/main/pypi/files").glob("*.whl")
    assert wheel.name.startswith("uses_tiny-0.1-cp311-cp311-manylinux"), wheel.name
    platforms = wheel.name.removesuffix(".whl").split("-")[-1].split(".")
    assert "manylinux_2_17_x86_64" in platforms and "linux_x86_64" not in platforms
    assert "# wheel uses_tiny-0.1-cp311-cp311-linux_x86_64.whl: repaired to" in log
    assert "carrying libdbtiny-" in log
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)],
        capture_output=True, text=True, env=client_env(PATH=f"{BIN}:/usr/bin:/bin"),
    )  # fmt: skip
    said = " ".join(shown.stdout.split())
    assert 'consistent with the following platform tag: "manylinux_2_' in said, said
    assert int(said.split('platform tag: "manylinux_2_')[1].split("_")[0]) <= 17

    # libdbtiny is nowhere but inside its conda package and the repaired wheel
    shutil.rmtree(tmp_path / "libdbtiny" / "dbtiny.c", ignore_errors=True)
    assert not [p for p in tmp_path.rglob("libdbtiny*.so")], "a loose copy of the library"
    assert (
        subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.count("libdbtiny")
        == 0
    )
    code = "import tinyext; print(tinyext.answer())"
    python, installed = venv_pip_install(
        PYENV / PYTHON / "bin/python3.11", tmp_path / "venv-repaired",
        "--no-index", "--find-links", str(wheel.parent), "uses-tiny",
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    ran = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert (ran.returncode, ran.stdout.strip()) == (0, "42"), ran.stderr

    (raw,) = (home.cache_dir / "builds/unrepaired").glob("uses_tiny-*.whl")
    assert raw.name == "uses_tiny-0.1-cp311-cp311-linux_x86_64.whl"
    python, installed = venv_pip_install(
        PYENV / PYTHON / "bin/python3.11", tmp_path / "venv-raw", "--no-index", str(raw)
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    ran = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert ran.returncode != 0 and "libdbtiny.so" in ran.stderr, ran.stderr
