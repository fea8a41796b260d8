"""Files into chunks of at most a chosen size and back, hashing as the bytes go by.

The chunks are the files' bytes one after another, cut every `chunk_size` bytes (a file
may start in one chunk and end in a later one), so removable media of any size can carry
a bundle. Reading back streams each chunk once: the bytes are hashed and written into the
staged files in the same pass, so a chunk verified is a chunk never read again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drawbridge.bridge.bundles.manifest import BundleFile, Chunk, Manifest, stream_offset
from drawbridge.bridge.errors import BundleError, BundleRefused

BLOCK = 1024 * 1024


@dataclass
class ChunkWriter:
    """Appends files to `chunks/NNNN.bin` in `folder`, opening a new chunk when one is full."""

    folder: Path
    chunk_size: int
    chunks: list[Chunk] = field(default_factory=list)
    _handle: object | None = None
    _digest: object | None = None
    _size: int = 0

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise BundleError(
                f"--chunk-size must be a positive number of bytes, not {self.chunk_size}"
            )
        (self.folder / "chunks").mkdir(parents=True, exist_ok=True)

    def add(self, path: Path) -> tuple[int, int, int, str]:
        """Append `path`'s bytes; return its first chunk, offset there, size and sha256."""
        if self._handle is None or self._size == self.chunk_size:
            self._open_next()
        start_chunk, start_offset = len(self.chunks), self._size
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as source:
            while block := source.read(BLOCK):
                digest.update(block)
                size += len(block)
                while block:
                    if self._size == self.chunk_size:
                        self._open_next()
                    room = self.chunk_size - self._size
                    part, block = block[:room], block[room:]
                    self._handle.write(part)  # type: ignore[attr-defined]
                    self._digest.update(part)  # type: ignore[attr-defined]
                    self._size += len(part)
        return start_chunk, start_offset, size, digest.hexdigest()

    def _open_next(self) -> None:
        self._close_current()
        self._handle = (self.folder / Chunk(len(self.chunks), "", 0).name).open("wb")
        self._digest, self._size = hashlib.sha256(), 0

    def _close_current(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self.chunks.append(Chunk(len(self.chunks), self._digest.hexdigest(), self._size))  # type: ignore[attr-defined]
            self._handle = None

    def close(self) -> list[Chunk]:
        """Finish the last chunk; the chunks written, in order."""
        self._close_current()
        return self.chunks


def staged_path(staging: Path, index: int, item: BundleFile) -> Path:
    """Where file number `index` of a manifest is reassembled."""
    return staging / f"{index:06d}" / item.name


def read_chunk(
    bundle: Path,
    manifest: Manifest,
    chunk: Chunk,
    staging: Path,
    on_bytes: Callable[[int], None],
) -> None:
    """Stream one chunk: hash it and write its bytes into the staged files it carries;
    BundleRefused naming the chunk if it is missing, of another size or another sha256."""
    path = bundle / chunk.name
    start = sum(c.size for c in manifest.chunks[: chunk.id])
    end = start + chunk.size
    spans = _spans(manifest, staging, start, end)
    digest, position = hashlib.sha256(), start
    handles: dict[Path, int] = {}
    try:
        try:
            source = path.open("rb")
        except FileNotFoundError:
            raise BundleRefused(
                f"{chunk.name} is missing from the bundle at {bundle}; copy the whole bundle "
                "folder again"
            ) from None
        with source:
            while block := source.read(BLOCK):
                on_bytes(len(block))
                digest.update(block)
                _write_spans(spans, handles, position, block)
                position += len(block)
                if position > end:
                    break
        if position != end or digest.hexdigest() != chunk.sha256:
            raise BundleRefused(
                f"{chunk.name} of the bundle at {bundle} is damaged: its "
                + (
                    f"size is {position - start} bytes, not {chunk.size}"
                    if position != end
                    else f"sha256 is {digest.hexdigest()}, not {chunk.sha256}"
                )
                + "; copy the chunk again from the exporter's bundle"
            )
        for fd in handles.values():
            os.fsync(fd)
    finally:
        for fd in handles.values():
            os.close(fd)


def _spans(manifest: Manifest, staging: Path, start: int, end: int) -> list[tuple[int, int, Path]]:
    """(stream start, stream end, staged path) of each file part inside [start, end)."""
    spans = []
    for index, item in enumerate(manifest.files):
        first = stream_offset(manifest, item)
        last = first + item.size
        if first < end and last > start or (item.size == 0 and start <= first < end):
            spans.append((first, last, staged_path(staging, index, item)))
    return spans


def _write_spans(
    spans: Sequence[tuple[int, int, Path]], handles: dict[Path, int], position: int, block: bytes
) -> None:
    """Write the part of `block` (at stream `position`) each span covers into its file."""
    block_end = position + len(block)
    for first, last, path in spans:
        low, high = max(first, position), min(last, block_end)
        if path not in handles:
            path.parent.mkdir(parents=True, exist_ok=True)
            handles[path] = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        if low < high:
            os.pwrite(handles[path], block[low - position : high - position], low - first)
