"""Read what is inside a .conda file, for layout checks."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import zstandard


def conda_members(path: Path) -> dict[str, bytes]:
    """Every file of a .conda (info/ and package files) by its path."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith(".tar.zst"):
                continue
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zf.read(name))).read()
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                for member in tf.getmembers():
                    if member.isfile():
                        members[member.name] = tf.extractfile(member).read()
    return members


def conda_json(path: Path, name: str) -> dict:
    return json.loads(conda_members(path)[name])
