"""Correct the paths.json of a .conda rattler-build's assembler wrote, in place.

The assembler looks for its own temporary folder in files as the prefix to record, so it
records nothing the repack wrote, and it lists the `info/` files it was given as payload.
"""

from __future__ import annotations

import json
import os
import tarfile
import zipfile
from collections.abc import Collection
from io import BytesIO
from pathlib import Path
from typing import Any

import zstandard


def correct_paths_json(
    package: Path, *, unlist_info: bool, prefixed: Collection[str] = (), placeholder: str = ""
) -> None:
    """Rewrite `package`'s paths.json: with `unlist_info`, drop its `info/` entries (so
    installers do not link a noarch package's link.json into the prefix, where each package
    with entry points clobbers the others' copy); mark each path in `prefixed` as holding
    `placeholder` in text, for installers to replace with the environment's prefix.

    ValueError if a path in `prefixed` is not in the package."""
    with zipfile.ZipFile(package) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    partial = package.with_name(f".{package.name}.part")
    try:
        with zipfile.ZipFile(partial, "w") as zf:
            for info, data in members:
                if info.filename.startswith("info-") and info.filename.endswith(".tar.zst"):
                    data = _corrected_info(data, unlist_info, set(prefixed), placeholder)
                zf.writestr(info, data)
        os.replace(partial, package)
    finally:
        partial.unlink(missing_ok=True)


def _corrected_info(
    compressed: bytes, unlist_info: bool, prefixed: set[str], placeholder: str
) -> bytes:
    """The info tarball with its paths.json corrected."""
    with zstandard.ZstdDecompressor().stream_reader(BytesIO(compressed)) as reader:
        plain = reader.read()
    source = tarfile.open(fileobj=BytesIO(plain))
    output = BytesIO()
    with source, tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in source.getmembers():
            handle = source.extractfile(member) if member.isfile() else None
            data = handle.read() if handle is not None else None
            if member.name == "info/paths.json" and data is not None:
                data = _corrected_paths(json.loads(data), unlist_info, prefixed, placeholder)
                member.size = len(data)
            tar.addfile(member, BytesIO(data) if data is not None else None)
    return zstandard.ZstdCompressor(level=3).compress(output.getvalue())


def _corrected_paths(
    paths: dict[str, Any], unlist_info: bool, prefixed: set[str], placeholder: str
) -> bytes:
    entries = paths["paths"]
    if unlist_info:
        entries = [entry for entry in entries if not entry["_path"].startswith("info/")]
    missing = prefixed - {entry["_path"] for entry in entries}
    if missing:
        raise ValueError(f"no {', '.join(sorted(missing))} in the package to mark as prefixed")
    for entry in entries:
        if entry["_path"] in prefixed:
            entry["prefix_placeholder"] = placeholder
            entry["file_mode"] = "text"
    paths["paths"] = entries
    return json.dumps(paths, indent=2, sort_keys=True).encode()
