"""Read what is inside a .conda file, for layout checks."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import zstandard


def _tar_members(path: Path) -> Iterator[tuple[tarfile.TarInfo, bytes]]:
    """Every file of a .conda's two tarballs (info/ and package files), with its data."""
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith(".tar.zst"):
                continue
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zf.read(name))).read()
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                for member in tf.getmembers():
                    if member.isfile():
                        yield member, tf.extractfile(member).read()


def conda_members(path: Path) -> dict[str, bytes]:
    """Every file of a .conda (info/ and package files) by its path."""
    return {member.name: data for member, data in _tar_members(path)}


def conda_modes(path: Path) -> dict[str, int]:
    """The permission bits of every file of a .conda, by its path."""
    return {member.name: member.mode for member, _ in _tar_members(path)}


def conda_json(path: Path, name: str) -> dict:
    return json.loads(conda_members(path)[name])
