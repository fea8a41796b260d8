"""A C extension recipe is cross-built for linux-aarch64 on this linux-64 machine, where
the conda channels carry a cross compiler: `drawbridge build` builds it for both subdirs.

The stand-ins (tests/upstream.py `build_cross_channel`): Debian's aarch64-linux-gnu-gcc as
`gcc_linux-aarch64`, Debian's arm64 Python 3.11 as the target's `python`, and
`cross-python_linux-aarch64`. The linux-aarch64 package's extension is an aarch64 ELF (its
header read here), its wheel is repaired to manylinux for aarch64, and the package imports
under qemu-user when Debian's qemu-aarch64 is here (skipped, and said so, when not).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard
from builders import C_SOURCE, make_sdist
from clients import client_env, install_from_channels
from clients import run_drawbridge
from databases import new_home
from upstream import AARCH64_SYSROOT, build_cross_channel, cross_tools_missing

from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token
from served_state import conda_index_file

#: e_machine of an ELF file for each machine (the ELF specification's numbers)
EM_X86_64, EM_AARCH64 = 62, 183


def elf_machine(data: bytes) -> int:
    """The e_machine field of an ELF file's header."""
    assert data[:4] == b"\x7fELF", "not an ELF file"
    little = data[5] == 1
    return struct.unpack("<H" if little else ">H", data[18:20])[0]


def compiled_files(package: Path) -> dict[str, bytes]:
    """The `.so` files inside a .conda package, by path."""
    found = {}
    with zipfile.ZipFile(package) as archive:
        for member in (m for m in archive.namelist() if m.startswith("pkg-")):
            reader = zstandard.ZstdDecompressor().stream_reader(archive.open(member))
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                for entry in tf:
                    if entry.name.endswith(".so") and entry.isfile():
                        found[entry.name] = tf.extractfile(entry).read()
    return found


def test_a_c_extension_is_cross_built_for_linux_aarch64(tmp_path: Path, upstream_39_312: Path):
    missing = cross_tools_missing()
    if missing:
        pytest.skip(f"the cross build needs Debian's cross tools: {missing}")
    try:
        cross = build_cross_channel()
    except subprocess.CalledProcessError as error:  # apt-get download: no arm64 lists here
        pytest.skip(f"the arm64 Python could not be had from Debian: {error.stderr or error}")
    home = new_home(tmp_path / "home")
    config = home.config_path.read_text()
    for old, new in (
        (
            "upstream_conda = []",
            f'upstream_conda = ["{upstream_39_312.as_uri()}", "{cross.as_uri()}"]',
        ),
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
    setup = (
        b'from setuptools import Extension, setup\nsetup(name="cext-arm", version="0.5",\n'
        b'      ext_modules=[Extension("fastadd", ["fastadd.c"])])\n'
    )
    members = {"fastadd.c": C_SOURCE.encode(), "setup.py": setup}
    make_sdist(
        tmp_path / "drop",
        "cext-arm",
        "0.5",
        members={f"cext_arm-0.5/{n}": d for n, d in members.items()},
    )

    root = home.root
    assert run_drawbridge("recipe", "generate", "cext-arm", home=root).returncode == 0
    approved = run_drawbridge("recipe", "approve", "cext-arm", token=token, home=root)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    built = run_drawbridge("build", "cext-arm", home=root)
    log = run_drawbridge("recipe", "log", "cext-arm", home=root).stdout
    assert built.returncode == 0, built.stdout + log[-5000:]
    said = " ".join(built.stdout.split())
    assert "cross-compiled for linux-aarch64 on linux-64: its tests were not run" in said, said
    assert "target_platform=linux-aarch64 (cross-compiled on linux-64)" in log
    # linux-aarch64 no longer waits for a builder; the other subdirs do
    listed = " ".join(run_drawbridge("recipe", "list", home=root).stdout.split())
    assert "linux-aarch64" not in listed.split("cext-arm", 1)[1].split("\n")[0], listed

    conda = root / "channels/main/conda"
    (arm,) = (conda / "linux-aarch64").glob("cext-arm-0.5-*.conda")
    (x86,) = (conda / "linux-64").glob("cext-arm-0.5-*.conda")
    arm_files, x86_files = compiled_files(arm), compiled_files(x86)
    assert [elf_machine(d) for d in arm_files.values()] == [EM_AARCH64], list(arm_files)
    assert [elf_machine(d) for d in x86_files.values()] == [EM_X86_64], list(x86_files)
    assert any("aarch64-linux-gnu" in name for name in arm_files), list(arm_files)
    record = conda_index_file(conda / "linux-aarch64")["packages.conda"]
    assert "python_abi 3.11.* *_cp311" in record[arm.name]["depends"]

    wheels = sorted(p.name for p in (root / "channels/main/pypi/files").glob("cext_arm-*.whl"))
    assert len(wheels) == 2 and any("manylinux_2_17_aarch64" in w for w in wheels), wheels
    assert any("manylinux_2_17_x86_64" in w for w in wheels), wheels

    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        pytest.skip("built and checked; the import under qemu-user is skipped: no qemu-aarch64")
    prefix = tmp_path / "arm-env"
    install_from_channels(
        [conda, cross, upstream_39_312],
        ["python 3.11.*", "cext-arm"],
        prefix,
        tmp_path / "pkgs",
        platforms=["linux-aarch64", "noarch"],
    )
    ran = subprocess.run(
        [qemu, "-L", str(AARCH64_SYSROOT), str(prefix / "bin/python3.11"), "-c",
         "import fastadd, platform; print(platform.machine(), fastadd.add(40, 2))"],
        capture_output=True, text=True, env=client_env(), timeout=120,
    )  # fmt: skip
    assert (ran.returncode, ran.stdout.strip()) == (0, "aarch64 42"), ran.stderr
