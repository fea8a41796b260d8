"""`repair_wheel`'s refusals with the real auditwheel: a wheel whose library cannot be
found, or that needs a newer glibc than the baseline, is refused with auditwheel's reason
(a repaired wheel that imports where the raw one does not: tests/clients/
test_build_repairs_wheels.py, through a real build).

The library (`libdbtiny`) and the extension are compiled here with the machine's gcc, the
extension against pyenv's Python 3.11 headers, linked as a conda build links: RUNPATH to
the host environment's lib/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from builders import make_wheel
from clients import PYENV

from drawbridge.bridge.recipes.wheel_repair import Baseline, repair_wheel

PYTHON = "3.11.7"
EXTENSION = """
#include <Python.h>
#include "dbtiny.h"
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(dbtiny_answer());
}
static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "The answer."}, {NULL, NULL, 0, NULL}
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&module); }
"""


def build_extension_wheel(folder: Path, host: Path, library: str = "return 42;") -> Path:
    """libdbtiny.so in `host`/lib (its function's body `library`), and a linux_x86_64
    wheel of `tinyext` linking it."""
    (host / "lib").mkdir(parents=True)
    (host / "include").mkdir()
    (host / "include" / "dbtiny.h").write_text("int dbtiny_answer(void);\n")
    (folder / "dbtiny.c").write_text(
        f"#include <stdlib.h>\nint dbtiny_answer(void) {{ {library} }}\n"
    )
    (folder / "tinyext.c").write_text(EXTENSION)
    gcc = ["gcc", "-shared", "-fPIC", "-O2"]
    subprocess.run(
        [
            *gcc,
            "-Wl,-soname,libdbtiny.so",
            "-o",
            str(host / "lib/libdbtiny.so"),
            str(folder / "dbtiny.c"),
        ],
        check=True,
    )
    include = PYENV / PYTHON / "include" / "python3.11"
    extension = folder / "tinyext.cpython-311-x86_64-linux-gnu.so"
    subprocess.run(
        [*gcc, f"-I{include}", f"-I{host / 'include'}", "-o", str(extension),
         str(folder / "tinyext.c"), f"-L{host / 'lib'}", "-ldbtiny",
         f"-Wl,-rpath,{host / 'lib'}"],
        check=True,
    )  # fmt: skip
    return make_wheel(
        folder / "built",
        "tinyext",
        "1.0",
        tag="cp311-cp311-linux_x86_64",
        module="tinyext_pkg",
        extra_entries={extension.name: extension.read_bytes()},
    )


@pytest.fixture(scope="module")
def tools() -> None:
    if shutil.which("gcc") is None or not (PYENV / PYTHON).is_dir():
        pytest.skip(f"needs gcc and pyenv Python {PYTHON}")


def test_a_wheel_whose_library_cannot_be_found_is_refused_with_the_reason(tmp_path: Path, tools):
    host = tmp_path / "host_env"
    raw = build_extension_wheel(tmp_path, host)
    shutil.rmtree(host)
    repair = repair_wheel(raw, "linux-64", tmp_path / "repaired", Baseline(17), [host / "lib"])
    assert not repair.ok and repair.wheel is None
    assert repair.said.startswith("auditwheel could not repair it: ")
    assert "libdbtiny.so" in repair.said, repair.said
    assert not list((tmp_path / "repaired").glob("*.whl"))


def test_a_wheel_needing_a_newer_glibc_than_the_baseline_is_refused(tmp_path: Path, tools):
    """libdbtiny calls arc4random, new in glibc 2.36: grafted, it would need 2.36 > 2.17."""
    host = tmp_path / "host_env"
    raw = build_extension_wheel(tmp_path, host, "return (int)(arc4random() % 1) + 42;")
    repair = repair_wheel(raw, "linux-64", tmp_path / "repaired", Baseline(17), [host / "lib"])
    assert not repair.ok, repair.said
    assert repair.said.startswith("auditwheel could not repair it: "), repair.said
    assert "manylinux_2_17_x86_64" in repair.said and "too-recent versioned symbols" in repair.said
    assert "raise [bridge] manylinux_glibc_minor" in repair.said
    # the baseline a site raises to its oldest machine's glibc lets it through
    repair = repair_wheel(raw, "linux-64", tmp_path / "repaired", Baseline(36), [host / "lib"])
    assert repair.ok and repair.wheel is not None, repair.said
    assert "manylinux_2_36_x86_64" in repair.wheel.name


def test_a_wheel_that_needs_nothing_keeps_its_bytes(tmp_path: Path):
    pure = make_wheel(tmp_path / "built", "plain", "1.0")
    repair = repair_wheel(pure, "linux-64", tmp_path / "repaired", Baseline(17))
    assert repair.ok and repair.wheel is not None and repair.wheel.name == pure.name
    assert repair.wheel.read_bytes() == pure.read_bytes()
    assert repair.said == "left as is: pure Python: nothing to repair"
