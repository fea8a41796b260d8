"""Repacked wheels installed by rattler into real prefixes: import, entry points, C code."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from builders import make_wheel
from conftest import Server, client_env
from test_conda_clients import solve_and_install

from drawbridge.bridge.names import default_table
from drawbridge.bridge.repack import repack
from drawbridge.bridge.targets import Target, best_wheel

NAMES = default_table()
MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def run(prefix: Path, *args: str) -> str:
    result = subprocess.run(
        [str(prefix / "bin" / "python"), *args], capture_output=True, text=True, env=client_env(), timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_noarch_package_imports_and_runs_its_entry_point(server: Server, upstream_channel: Path, tmp_path: Path):
    wheel = make_wheel(
        tmp_path / "w", "demo-tool", "1.2", requires_python=">=3.8",
        entry_points={"console_scripts": {"demo-cli": "demo_tool:main"}},
    )  # fmt: skip
    package = repack(wheel, None, tmp_path / "out", NAMES, ["python >=3.8"])
    server.publish(package.path)
    prefix = tmp_path / "env"
    solve_and_install(server, upstream_channel, prefix, [f"python {MACHINE_PYTHON}.*", "demo-tool"], tmp_path / "cache")
    assert run(prefix, "-c", "import demo_tool; print(demo_tool.VALUE)") == "1.2"
    launcher = subprocess.run([str(prefix / "bin" / "demo-cli")], capture_output=True, text=True, env=client_env())
    assert launcher.returncode == 0 and launcher.stdout.strip() == "demo-tool 1.2 ok", launcher.stderr
    installer = run(prefix, "-c", "import importlib.metadata as m; print(m.distribution('demo-tool').read_text('INSTALLER').strip())")
    assert installer == "conda"


C_SOURCE = """
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastadd", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastadd(void) { return PyModule_Create(&module); }
"""


@pytest.fixture(scope="module")
def compiled_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real binary wheel: a C extension compiled with gcc, tagged manylinux like auditwheel would."""
    project = tmp_path_factory.mktemp("fastadd")
    (project / "fastadd.c").write_text(C_SOURCE)
    (project / "setup.py").write_text(textwrap.dedent("""
        from setuptools import Extension, setup
        setup(name="fastadd", version="0.1", ext_modules=[Extension("fastadd", ["fastadd.c"])])
    """))
    out = project / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(project)],
        check=True, capture_output=True, env=client_env(),
    )  # fmt: skip
    built = next(out.glob("fastadd-0.1-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "wheel", "tags", "--remove", "--platform-tag", "manylinux_2_17_x86_64", str(built)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("fastadd-0.1-*manylinux_2_17_x86_64.whl"))


def test_compiled_extension_installs_and_runs(compiled_wheel: Path, server: Server, upstream_channel: Path, tmp_path: Path):
    target = Target("linux-64", MACHINE_PYTHON)
    assert best_wheel([compiled_wheel.name], target) == compiled_wheel.name
    package = repack(compiled_wheel, target, tmp_path / "out", NAMES, [])
    server.publish(package.path)
    prefix = tmp_path / "env"
    installed = solve_and_install(server, upstream_channel, prefix, ["fastadd"], tmp_path / "cache")
    assert any(p.startswith("python_abi=") for p in installed)
    assert run(prefix, "-c", "import fastadd; print(fastadd.add(40, 2))") == "42"
