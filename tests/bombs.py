"""Decompression bombs for the hostile-input tests, built in a second from repeated frames.

bz2, gzip and zstd readers all accept several compressed streams (frames, members) one
after another, so a stream of N zero-filled MiB is one compressed MiB of zeros repeated.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import random
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import zstandard

MiB = 1024 * 1024
_ZEROS = b"\0" * (16 * MiB)


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _tar_with_zeros(
    compress: Callable[[bytes], bytes], before: dict[str, bytes], name: str, size: int
) -> bytes:
    """A compressed tar: `before`, then member `name` of `size` zero bytes (a multiple of
    16 MiB), then the end of the archive; the zeros are one compressed block repeated."""
    head = _strip_end(_tar_bytes(before))
    info = tarfile.TarInfo(name)
    info.size = size
    block = compress(_ZEROS)
    return (
        compress(head + info.tobuf(format=tarfile.GNU_FORMAT))
        + block * (size // len(_ZEROS))
        + compress(b"\0" * 10240)
    )


def _strip_end(tar: bytes) -> bytes:
    """A tar without its trailing zero blocks, so more members can follow."""
    end = len(tar)
    while end >= 512 and tar[end - 512 : end] == b"\0" * 512:
        end -= 512
    return tar[:end]


def wheel_metadata_bomb(folder: Path, size: int = 400 * MiB) -> Path:
    """A wheel whose METADATA inflates to `size` bytes (400 MiB in ~400 KB, as in issue 10)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("bomb/__init__.py", b"")
        with zf.open("bomb-1.0.dist-info/METADATA", "w", force_zip64=True) as out:
            out.write(b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\nSummary: ")
            for _ in range(size // len(_ZEROS)):
                out.write(b"A" * len(_ZEROS))
        zf.writestr(
            "bomb-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr("bomb-1.0.dist-info/RECORD", "")
    return path


def wheel_data_bomb(folder: Path, size: int = 256 * MiB) -> Path:
    """An honest wheel but for one data file of `size` zero bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zeros-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(
            "zeros-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zeros\nVersion: 1.0\n"
        )
        zf.writestr(
            "zeros-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        with zf.open("zeros/blob.bin", "w", force_zip64=True) as out:
            for _ in range(size // len(_ZEROS)):
                out.write(_ZEROS)
        zf.writestr("zeros-1.0.dist-info/RECORD", "")
    return path


def conda_index_bomb(folder: Path, size: int = 1024 * MiB) -> Path:
    """A .tar.bz2 of a few KB whose info/index.json is `size` zero bytes (1 GiB, as in issue 10)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bomb-1.0-0.tar.bz2"
    path.write_bytes(_tar_with_zeros(bz2.compress, {}, "info/index.json", size))
    return path


def conda_payload_bomb(folder: Path, size: int = 1024 * MiB) -> Path:
    """A .conda with an honest info/index.json and `size` bytes of zeros in its pkg archive."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = "payload-1.0-0"
    index = {
        "name": "payload",
        "version": "1.0",
        "build": "0",
        "build_number": 0,
        "subdir": "noarch",
        "depends": [],
    }
    info = zstandard.ZstdCompressor().compress(
        _tar_bytes({"info/index.json": json.dumps(index).encode()})
    )
    pkg = _tar_with_zeros(zstandard.ZstdCompressor().compress, {}, "share/zeros", size)
    path = folder / f"{stem}.conda"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", '{"conda_pkg_format_version": 2}')
        zf.writestr(f"info-{stem}.tar.zst", info)
        zf.writestr(f"pkg-{stem}.tar.zst", pkg)
    return path


def sdist_pkg_info_bomb(folder: Path, size: int = 1024 * MiB) -> Path:
    """An sdist whose PKG-INFO declares `size` bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bomb-1.0.tar.gz"
    path.write_bytes(_tar_with_zeros(gzip.compress, {}, "bomb-1.0/PKG-INFO", size))
    return path


def sdist_payload_bomb(folder: Path, size: int = 1024 * MiB) -> Path:
    """An sdist with an honest PKG-INFO and a `size`-byte file of zeros after it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zeros-1.0.tar.gz"
    pkg_info = {"zeros-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: zeros\nVersion: 1.0\n"}
    path.write_bytes(_tar_with_zeros(gzip.compress, pkg_info, "zeros-1.0/blob", size))
    return path


def pax_header_bomb(folder: Path, size: int = 1024 * MiB) -> Path:
    """A .tar.bz2 whose first header is a pax extended header claiming `size` bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, size
    path = folder / "paxbomb-1.0-0.tar.bz2"
    block = bz2.compress(_ZEROS)
    path.write_bytes(
        bz2.compress(info.tobuf(format=tarfile.USTAR_FORMAT)) + block * (size // len(_ZEROS))
    )
    return path


def many_members_bomb(folder: Path, members: int = 2_000_000) -> Path:
    """A .tar.bz2 of `members` empty files (tarfile would keep a header object for each)."""
    folder.mkdir(parents=True, exist_ok=True)
    chunk = 8192
    headers = b"".join(
        tarfile.TarInfo(f"share/f{i % chunk}").tobuf(format=tarfile.GNU_FORMAT)
        for i in range(chunk)
    )
    block = bz2.compress(headers)
    path = folder / "many-1.0-0.tar.bz2"
    path.write_bytes(block * (members // chunk) + bz2.compress(b"\0" * 10240))
    return path


def zstd_window_bomb(folder: Path, size: int = 256 * MiB) -> Path:
    """A .conda whose pkg archive is one zstd frame with a 128 MiB window (the most libzstd,
    rattler and Drawbridge accept), over `size` bytes of a repeated random MiB: the
    decompressor fills its whole window. The worst case of a publish's memory."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = "window-1.0-0"
    index = {
        "name": "window",
        "version": "1.0",
        "build": "0",
        "build_number": 0,
        "subdir": "noarch",
        "depends": [],
    }
    info = zstandard.ZstdCompressor().compress(
        _tar_bytes({"info/index.json": json.dumps(index).encode()})
    )
    params = zstandard.ZstdCompressionParameters.from_level(1, window_log=27)
    payload = io.BytesIO()
    writer = zstandard.ZstdCompressor(compression_params=params).stream_writer(
        payload, closefd=False
    )
    member = tarfile.TarInfo("share/noise")
    member.size = size
    writer.write(member.tobuf(format=tarfile.GNU_FORMAT))
    noise = random.Random(10).randbytes(MiB)
    for _ in range(size // MiB):
        writer.write(noise)
    writer.write(b"\0" * 10240)
    writer.flush(zstandard.FLUSH_FRAME)
    path = folder / f"{stem}.conda"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", '{"conda_pkg_format_version": 2}')
        zf.writestr(f"info-{stem}.tar.zst", info)
        zf.writestr(f"pkg-{stem}.tar.zst", payload.getvalue())
    return path


BOMBS = {
    "wheel METADATA of 400 MiB": (wheel_metadata_bomb, "refused as a decompression bomb"),
    "wheel with 256 MiB of zeros": (wheel_data_bomb, "refused as a decompression bomb"),
    "tar.bz2 info/index.json of 1 GiB": (
        conda_index_bomb,
        "info/index.json is 1,073,741,824 bytes",
    ),
    ".conda payload of 1 GiB": (conda_payload_bomb, "refused as a decompression bomb"),
    "sdist PKG-INFO of 1 GiB": (sdist_pkg_info_bomb, "PKG-INFO is 1,073,741,824 bytes"),
    "sdist payload of 1 GiB": (sdist_payload_bomb, "refused as a decompression bomb"),
    "pax header of 1 GiB": (pax_header_bomb, "a tar extended header is 1,073,741,824 bytes"),
    "2 million empty members": (many_members_bomb, "the number of members is 250,001"),
    "zstd frame with a 128 MiB window": (zstd_window_bomb, "refused as a decompression bomb"),
}


def build_every_bomb(folder: Path) -> dict[str, Path]:
    """Every bomb of `BOMBS` built in `folder`, by case."""
    return {case: build(folder / str(n)) for n, (case, (build, _)) in enumerate(BOMBS.items())}
