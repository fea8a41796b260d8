"""The parallel gzip writer: any gunzip reads it, and the same input gives the same bytes."""

from __future__ import annotations

import gzip
import io
import os
import subprocess

import pytest

from drawbridge.environments.parallel_gzip import BLOCK_SIZE, ParallelGzipWriter


def _compress(data: bytes, threads: int, chunk: int) -> bytes:
    out = io.BytesIO()
    with ParallelGzipWriter(out, level=6, threads=threads) as writer:
        for start in range(0, len(data), chunk):
            writer.write(data[start : start + chunk])
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, 3 * BLOCK_SIZE + 12345])
def test_round_trips_through_python_and_gunzip(size: int, tmp_path):
    data = (os.urandom(size // 2) + b"drawbridge " * (size // 22 + 1))[:size]
    compressed = _compress(data, threads=2, chunk=65536)
    assert gzip.decompress(compressed) == data
    (tmp_path / "data.gz").write_bytes(compressed)
    assert subprocess.run(["gzip", "-t", str(tmp_path / "data.gz")]).returncode == 0


def test_output_depends_on_the_input_only():
    data = b"".join(b"line %d of a tar stream\n" % i for i in range(300_000))
    first = _compress(data, threads=1, chunk=4096)
    assert _compress(data, threads=2, chunk=1_000_000) == first
    assert len(first) < len(data) / 5, "the dictionary carries over between blocks"
