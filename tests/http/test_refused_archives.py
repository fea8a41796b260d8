"""Issue 16, items 6 and 7: archives that installers cannot read, or that two readers would
read differently, are refused at upload with a 400 naming the file and the rule, as PyPI,
pip, installer and conda's rules refuse them; the channel serves what it served before.

Item 6: an entry flagged as encrypted, or compressed by a method zipfile does not
implement, made `testzip()` raise RuntimeError or NotImplementedError: a 500 with a
traceback, and `drawbridge publish` crashed. Item 7: a wheel with two METADATA entries
(the server served the second), bytes before the zip, two .dist-info directories, an
invalid Requires-Python and a conda package named `BadUpper` were all published.
"""

from __future__ import annotations

import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import (
    make_conda_tar_bz2,
    make_noarch_python_conda,
    make_sdist,
    make_wheel,
    patch_zip_entry,
)
from served_state import InProcess, changed, served_bytes

from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels


#: what `_prepended` puts before a zip
STUB = b"#!/bin/sh\necho surprise\nexit 0\n"


def _bad_crc(path: Path, entry: str) -> Path:
    """`entry` with its recorded CRC-32 off by one, in both headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(entry)
    for at in range(len(data) - 4):
        if data[at : at + 4] == struct.pack("<I", info.CRC):
            data[at : at + 4] = struct.pack("<I", (info.CRC + 1) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def _prepended(path: Path) -> Path:
    """Bytes before the zip, its offsets left as they were (`cat stub file.zip`)."""
    path.write_bytes(STUB + path.read_bytes())
    return path


def _appended_to_a_stub(path: Path) -> Path:
    """The zip's entries written again after other bytes, offsets counted from the start
    of the file (a self-extracting archive's layout)."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    path.write_bytes(b"MZ" + b"\0" * 510)
    with zipfile.ZipFile(path, "a") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _with_twice(path: Path, entry: str, second: bytes) -> Path:
    """The archive with `entry` added again at the end, holding `second`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        with zipfile.ZipFile(path, "a") as zf:
            info = zipfile.ZipInfo(entry, date_time=zf.getinfo(entry).date_time)
            info.compress_type = zf.getinfo(entry).compress_type
            zf.writestr(info, second)
    return path


def _wheel_with_a_hidden_dependency(d: Path) -> Path:
    """The issue's wheel: a second METADATA adding a dependency the first does not name."""
    wheel = make_wheel(d, "twice", "1.0")
    first = zipfile.ZipFile(wheel).read("twice-1.0.dist-info/METADATA")
    hidden = first.replace(b"License: MIT\n", b"License: MIT\nRequires-Dist: evil\n")
    return _with_twice(wheel, "twice-1.0.dist-info/METADATA", hidden)


def _conda(d: Path, name: str) -> Path:
    return make_noarch_python_conda(d, name, "1.0", name.lower().replace("-", "_"))


def _stem(path: Path) -> str:
    return path.name[: -len(".conda")]


def _zip_sdist(d: Path, name: str, **options: object) -> Path:
    return make_sdist(d, name, "1.0", zipped=True, **options)  # type: ignore[arg-type]


def _rezipped(path: Path, method: int) -> Path:
    """The same archive with its entries compressed by `method`."""
    with zipfile.ZipFile(path) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


#: case: (how to build the file, what the refusal must say)
REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    # -- item 6: what zipfile cannot read is a 400, not a RuntimeError -------------------
    "wheel, an entry flagged encrypted": (
        lambda d: patch_zip_entry(make_wheel(d, "locked", "1.0"), "locked/__init__.py", flags=0x1),
        "entry 'locked/__init__.py' is encrypted",
    ),
    "wheel, METADATA flagged encrypted": (
        lambda d: patch_zip_entry(
            make_wheel(d, "locked", "1.0"), "locked-1.0.dist-info/METADATA", flags=1
        ),
        "entry 'locked-1.0.dist-info/METADATA' is encrypted",
    ),
    "wheel, strong encryption (flag bit 6)": (
        lambda d: patch_zip_entry(make_wheel(d, "locked", "1.0"), "locked/__init__.py", flags=0x40),
        "entry 'locked/__init__.py' is encrypted",
    ),
    "wheel, compressed patched data (flag bit 5)": (
        lambda d: patch_zip_entry(
            make_wheel(d, "patched", "1.0"), "patched/__init__.py", flags=0x20
        ),
        "entry 'patched/__init__.py' holds compressed patched data",
    ),
    "wheel, AES (method 99)": (
        lambda d: patch_zip_entry(make_wheel(d, "aes", "1.0"), "aes/__init__.py", method=99),
        "entry 'aes/__init__.py' is compressed with zip method 99 (AES encryption), which "
        "pip cannot read",
    ),
    "wheel, deflate64 (method 9)": (
        lambda d: patch_zip_entry(
            make_wheel(d, "deflate64", "1.0"), "deflate64/__init__.py", method=9
        ),
        "zip method 9, which pip cannot read",
    ),
    "wheel, an unknown method (77)": (
        lambda d: patch_zip_entry(
            make_wheel(d, "unknown", "1.0"), "unknown/__init__.py", method=77
        ),
        "zip method 77, which pip cannot read",
    ),
    "wheel, a bad CRC": (
        lambda d: _bad_crc(make_wheel(d, "crc", "1.0"), "crc/__init__.py"),
        "bad CRC in 'crc/__init__.py'",
    ),
    "wheel, stored data claimed deflated": (
        lambda d: patch_zip_entry(
            _rezipped(make_wheel(d, "inflate", "1.0"), zipfile.ZIP_STORED),
            "inflate/__init__.py",
            method=zipfile.ZIP_DEFLATED,
        ),
        "corrupt zip archive",
    ),
    ".conda, an entry flagged encrypted": (
        lambda d: patch_zip_entry(_conda(d, "locked"), "metadata.json", flags=0x1),
        "entry 'metadata.json' is encrypted",
    ),
    ".conda, its info archive flagged encrypted": (
        lambda d: (
            p := _conda(d, "locked"),
            patch_zip_entry(p, f"info-{_stem(p)}.tar.zst", flags=1),
        )[1],
        "entry 'info-locked-1.0-pyh4616a5c_0.tar.zst' is encrypted",
    ),
    ".conda, AES (method 99)": (
        lambda d: (p := _conda(d, "aes"), patch_zip_entry(p, f"pkg-{_stem(p)}.tar.zst", method=99))[
            1
        ],
        "entry 'pkg-aes-1.0-pyh4616a5c_0.tar.zst' is compressed with zip method 99",
    ),
    "zip sdist, PKG-INFO flagged encrypted": (
        lambda d: patch_zip_entry(_zip_sdist(d, "locked"), "locked-1.0/PKG-INFO", flags=0x1),
        "entry 'locked-1.0/PKG-INFO' is encrypted",
    ),
    "zip sdist, an unknown method": (
        lambda d: patch_zip_entry(
            _zip_sdist(d, "unknown"), "unknown-1.0/unknown/__init__.py", method=77
        ),
        "zip method 77, which pip cannot read",
    ),
    # -- item 7: what PyPI, pip, installer and conda refuse -------------------------------
    "wheel, METADATA twice (a hidden dependency)": (
        _wheel_with_a_hidden_dependency,
        "entry 'twice-1.0.dist-info/METADATA' appears twice",
    ),
    "wheel, a module twice": (
        lambda d: _with_twice(make_wheel(d, "twice", "1.0"), "twice/__init__.py", b"EVIL = 1\n"),
        "entry 'twice/__init__.py' appears twice",
    ),
    ".conda, its package archive twice": (
        lambda d: (p := _conda(d, "twice"), _with_twice(p, f"pkg-{_stem(p)}.tar.zst", b"x"))[1],
        "entry 'pkg-twice-1.0-pyh4616a5c_0.tar.zst' appears twice",
    ),
    "zip sdist, PKG-INFO twice": (
        lambda d: _with_twice(_zip_sdist(d, "twice"), "twice-1.0/PKG-INFO", b"Name: other\n"),
        "entry 'twice-1.0/PKG-INFO' appears twice",
    ),
    "wheel, bytes before the zip": (
        lambda d: _prepended(make_wheel(d, "prefixed", "1.0")),
        f"{len(STUB)} bytes of other data come before the zip archive",
    ),
    "wheel, a stub before the zip, offsets from the file's start": (
        lambda d: _appended_to_a_stub(make_wheel(d, "stubbed", "1.0")),
        "512 bytes of other data come before the zip archive",
    ),
    ".conda, bytes before the zip": (
        lambda d: _prepended(_conda(d, "prefixed")),
        f"{len(STUB)} bytes of other data come before the zip archive",
    ),
    "zip sdist, bytes before the zip": (
        lambda d: _prepended(_zip_sdist(d, "prefixed")),
        f"{len(STUB)} bytes of other data come before the zip archive",
    ),
    "wheel, two .dist-info directories": (
        lambda d: make_wheel(
            d,
            "split",
            "1.0",
            extra_entries={"other-2.0.dist-info/METADATA": b"Name: other\nVersion: 2.0\n"},
        ),
        "2 .dist-info directories (other-2.0.dist-info, split-1.0.dist-info); a wheel has "
        "exactly one",
    ),
    "wheel, Requires-Python with a wildcard on >=": (
        lambda d: make_wheel(d, "wild", "1.0", requires_python=">=3.6.*"),
        "its Requires-Python '>=3.6.*' is not a valid version specifier",
    ),
    "wheel, Requires-Python naming the interpreter": (
        lambda d: make_wheel(d, "named", "1.0", requires_python="python3"),
        "its Requires-Python 'python3' is not a valid version specifier",
    ),
    "sdist, Requires-Python ~= with one part": (
        lambda d: make_sdist(d, "compatible", "1.0", requires_python="~=3"),
        "its Requires-Python '~=3' is not a valid version specifier",
    ),
    "zip sdist, Requires-Python not a specifier": (
        lambda d: _zip_sdist(d, "zipwild", requires_python=">=3.6.*"),
        "its Requires-Python '>=3.6.*' is not a valid version specifier",
    ),
    ".tar.bz2 named BadUpper": (
        lambda d: make_conda_tar_bz2(d, "BadUpper", "1.0"),
        "package name 'BadUpper', which conda's rules (CEP 26) refuse",
    ),
    ".conda named BadUpper": (  # rattler-build names the file badupper-1.0-badupper.conda
        lambda d: _conda(d, "BadUpper"),
        "package name 'BadUpper', which conda's rules (CEP 26) refuse",
    ),
    ".tar.bz2 name with two separators in a row": (
        lambda d: make_conda_tar_bz2(d, "two__under", "1.0"),
        "package name 'two__under', which conda's rules (CEP 26) refuse",
    ),
    ".tar.bz2 name starting with a hyphen": (
        lambda d: make_conda_tar_bz2(d, "-leading", "1.0"),
        "package name '-leading', which conda's rules (CEP 26) refuse",
    ),
    ".tar.bz2 name of 65 characters": (
        lambda d: make_conda_tar_bz2(d, "n" * 65, "1.0"),
        f"package name '{'n' * 65}', which conda's rules (CEP 26) refuse",
    ),
}


#: files built the same ways but for the flaw: all published, so the flaw is what is refused
ACCEPTED: dict[str, Callable[[Path], Path]] = {
    "wheel": lambda d: make_wheel(d, "plain", "1.0", requires_python=">=3.8, !=3.9.*"),
    "wheel, bzip2 entries (zipfile reads them, so pip does)": lambda d: _rezipped(
        make_wheel(d, "bz", "1.0"), zipfile.ZIP_BZIP2
    ),
    "wheel, lzma entries": lambda d: _rezipped(make_wheel(d, "xz", "1.0"), zipfile.ZIP_LZMA),
    "zip sdist": lambda d: _zip_sdist(d, "zipped", requires_python=">=3.8"),
    "sdist": lambda d: make_sdist(d, "tarred", "1.0", requires_python="~=3.8"),
    ".conda": lambda d: _conda(d, "fine"),
    ".tar.bz2 named as conda-forge names them": lambda d: make_conda_tar_bz2(
        d, "_private.name-with_all.3", "1.0"
    ),
}


@pytest.fixture
def client(home: Home, tmp_path: Path) -> InProcess:
    """The app of a channel that already serves a wheel, an sdist and conda packages."""
    client = InProcess(home)
    for good in (
        make_wheel(tmp_path / "good", "good", "1.0"),
        make_sdist(tmp_path / "good", "good", "1.0"),
        make_conda_tar_bz2(tmp_path / "good", "tool", "1.0", "0", "linux-64"),
        _conda(tmp_path / "good", "noarchtool"),
    ):
        assert client.upload(good).status_code == 200, good.name
    return client


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_an_upload_is_refused_with_a_400_naming_the_file_and_the_rule(
    client: InProcess, home: Home, tmp_path: Path, case: str
):
    build, reason = REFUSED[case]
    bad = build(tmp_path / "bad")
    before = served_bytes(home)
    response = client.upload(bad)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{bad.name}: ") and reason in detail, detail
    assert changed(before, served_bytes(home)) == []
    assert not list(home.incoming_dir.iterdir())


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_publish_many_refuses_it_and_publishes_the_rest(
    channels: Channels, tmp_path: Path, case: str
):
    build, reason = REFUSED[case]
    bad, good = build(tmp_path / "bad"), make_wheel(tmp_path / "good", "neighbour", "1.0")
    published, refused = channels.publish_many("main", [bad, good])
    assert [item.filename for item in published] == [good.name]
    assert [path for path, _why in refused] == [bad] and reason in refused[0][1], refused
    assert channels.projects("main") == ["neighbour"]
    assert channels.conda_packages("main") == []


@pytest.mark.parametrize("case", ACCEPTED, ids=list(ACCEPTED))
def test_the_same_files_without_the_flaw_are_published(
    client: InProcess, tmp_path: Path, case: str
):
    path = ACCEPTED[case](tmp_path / "fine")
    response = client.upload(path)
    assert response.status_code == 200, response.text


def test_the_hidden_dependency_is_never_served(client: InProcess, tmp_path: Path):
    """The issue's wheel: its .metadata file and JSON API served the second METADATA."""
    assert client.upload(_wheel_with_a_hidden_dependency(tmp_path)).status_code == 400
    assert client.get("/main/files/twice-1.0-py3-none-any.whl.metadata").status_code == 404
    assert client.get("/main/pypi/twice/json").status_code == 404
