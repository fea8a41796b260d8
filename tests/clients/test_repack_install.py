"""Repacked wheels installed by rattler into real prefixes: import, entry points, C code."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from builders import C_SOURCE, WHEEL_SCRIPTS, make_wheel
from clients import client_env, solve_and_install
from servers import Server

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.wheels.repack import repack
from drawbridge.bridge.translate.targets import Target, best_wheel

NAMES = default_table()
MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def run(prefix: Path, *args: str) -> str:
    result = subprocess.run(
        [str(prefix / "bin" / "python"), *args],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_noarch_package_imports_and_runs_its_entry_point(
    server: Server, upstream_channel: Path, tmp_path: Path
):
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        requires_python=">=3.8",
        entry_points={"console_scripts": {"demo-cli": "demo_tool:main"}},
    )
    package = repack(wheel, None, tmp_path / "out", NAMES, ["python >=3.8"])
    server.publish(package.path)
    prefix = tmp_path / "env"
    solve_and_install(
        server,
        upstream_channel,
        prefix,
        [f"python {MACHINE_PYTHON}.*", "demo-tool"],
        tmp_path / "cache",
    )
    assert run(prefix, "-c", "import demo_tool; print(demo_tool.VALUE)") == "1.2"
    launcher = subprocess.run(
        [str(prefix / "bin" / "demo-cli")], capture_output=True, text=True, env=client_env()
    )
    assert launcher.returncode == 0 and launcher.stdout.strip() == "demo-tool 1.2 ok", (
        launcher.stderr
    )
    installer = run(
        prefix,
        "-c",
        "import importlib.metadata as m; "
        "print(m.distribution('demo-tool').read_text('INSTALLER').strip())",
    )
    assert installer == "conda"


@pytest.mark.parametrize("binary", [False, True], ids=["noarch", "linux-64"])
def test_wheel_scripts_run_on_the_environment_python(
    binary: bool, server: Server, upstream_channel: Path, tmp_path: Path
):
    """A wheel's `.data/scripts/` run from a py-rattler-installed environment: the `#!python`
    one on the environment's Python (its docstring intact), the shell one as it is; the
    entry point beside them too."""
    major, minor = MACHINE_PYTHON.split(".")
    tag = f"cp{major}{minor}-cp{major}{minor}-manylinux_2_17_x86_64" if binary else "py3-none-any"
    wheel = make_wheel(
        tmp_path / "w",
        "demo-tool",
        "1.2",
        tag=tag,
        scripts=WHEEL_SCRIPTS,
        entry_points={"console_scripts": {"demo-cli": "demo_tool:main"}},
    )
    target = Target("linux-64", MACHINE_PYTHON) if binary else None
    package = repack(wheel, target, tmp_path / "out", NAMES, [] if binary else ["python >=3.8"])
    server.publish(package.path)
    prefix = tmp_path / "env"
    solve_and_install(
        server,
        upstream_channel,
        prefix,
        [f"python {MACHINE_PYTHON}.*", "demo-tool"],
        tmp_path / "cache",
    )
    outputs = {}
    for command in ("demo-where", "demo-shell", "demo-cli"):
        # run as a command: the kernel reads the shebang, no python named by the test
        ran = subprocess.run(
            [str(prefix / "bin" / command)], capture_output=True, text=True, env=client_env()
        )
        assert ran.returncode == 0, (command, ran.stderr)
        outputs[command] = ran.stdout.strip()
    assert outputs == {
        "demo-where": f"demo-where {prefix}",
        "demo-shell": "demo-shell ran",
        "demo-cli": "demo-tool 1.2 ok",
    }


def build_c_wheel(project: Path, limited_api: bool) -> Path:
    """Compile fastadd with gcc into a wheel, tagged manylinux as auditwheel would tag it."""
    (project / "fastadd.c").write_text(C_SOURCE)
    extension = (
        'Extension("fastadd", ["fastadd.c"], py_limited_api=True, '
        'define_macros=[("Py_LIMITED_API", "0x03070000")])'
        if limited_api
        else 'Extension("fastadd", ["fastadd.c"])'
    )
    (project / "setup.py").write_text(
        textwrap.dedent(f"""
        from setuptools import Extension, setup
        setup(name="fastadd", version="0.1", ext_modules=[{extension}])
    """)
    )
    if limited_api:
        (project / "setup.cfg").write_text("[bdist_wheel]\npy_limited_api = cp37\n")
    out = project / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(project),
        ],
        check=True,
        capture_output=True,
        env=client_env(),
    )
    built = next(out.glob("fastadd-0.1-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "wheel",
            "tags",
            "--remove",
            "--platform-tag",
            "manylinux_2_17_x86_64",
            str(built),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("fastadd-0.1-*manylinux_2_17_x86_64.whl"))


@pytest.fixture(scope="module")
def compiled_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real binary wheel for this Python: cp3X-cp3X."""
    return build_c_wheel(tmp_path_factory.mktemp("fastadd"), limited_api=False)


@pytest.fixture(scope="module")
def abi3_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real stable-ABI wheel: cp37-abi3, which serves every later Python."""
    return build_c_wheel(tmp_path_factory.mktemp("fastadd-abi3"), limited_api=True)


def test_compiled_extension_installs_and_runs(
    compiled_wheel: Path, server: Server, upstream_channel: Path, tmp_path: Path
):
    target = Target("linux-64", MACHINE_PYTHON)
    assert best_wheel([compiled_wheel.name], target) == compiled_wheel.name
    package = repack(compiled_wheel, target, tmp_path / "out", NAMES, [])
    server.publish(package.path)
    prefix = tmp_path / "env"
    installed = solve_and_install(server, upstream_channel, prefix, ["fastadd"], tmp_path / "cache")
    assert any(p.startswith("python_abi=") for p in installed)
    assert run(prefix, "-c", "import fastadd; print(fastadd.add(40, 2))") == "42"


def test_abi3_wheel_serves_a_later_python(
    abi3_wheel: Path, server: Server, upstream_channel: Path, tmp_path: Path
):
    assert "-cp37-abi3-" in abi3_wheel.name
    target = Target("linux-64", MACHINE_PYTHON)  # 3.11: four minor versions after cp37
    assert best_wheel([abi3_wheel.name], target) == abi3_wheel.name
    package = repack(abi3_wheel, target, tmp_path / "out", NAMES, [])
    server.publish(package.path)
    prefix = tmp_path / "env"
    solve_and_install(
        server,
        upstream_channel,
        prefix,
        [f"python {MACHINE_PYTHON}.*", "fastadd"],
        tmp_path / "cache",
    )
    assert (
        run(
            prefix,
            "-c",
            "import fastadd; print(fastadd.add(2, 3), fastadd.__file__.endswith('.abi3.so'))",
        )
        == "5 True"
    )
