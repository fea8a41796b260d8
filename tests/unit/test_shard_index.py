"""A change to a subdir's shards patches the shard index's msgpack bytes kept in memory
instead of encoding every name again (`channel/shards.py`, issue 22): what it writes must
be, byte for byte, what msgpack writes for the decoded document, through every kind of
change, and an index another process replaced must be read again, not patched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest

from drawbridge.channel import shards


def _record(name: str, version: str) -> shards.Record:
    return {"name": name, "version": version, "build": "0", "build_number": 0, "depends": []}


def _filename(name: str, version: str) -> str:
    return f"{name}-{version}-0.tar.bz2"


def _written(folder: Path) -> tuple[bytes, dict[str, Any]]:
    data = shards.decompress((folder / shards.SHARD_INDEX).read_bytes())
    return data, msgpack.unpackb(data)


def _check(folder: Path, model: dict[str, set[str]], order: list[str]) -> None:
    """The index on disk is msgpack's own encoding of its document, names `model`'s names
    in `order`, and each name's shard holds exactly that name's files."""
    data, document = _written(folder)
    assert data == msgpack.packb(document)
    assert list(document["shards"]) == order
    assert set(order) == {name for name, files in model.items() if files}
    for name, digest in document["shards"].items():
        shard = shards.read_shard(folder, digest)
        assert set(shard["packages"]) == model[name], name


def _change(
    folder: Path, model: dict[str, set[str]], order: list[str], edits: list[tuple[str, str, bool]]
) -> None:
    """Apply (name, version, add or remove) edits in one update, to the folder and to the
    model (a name keeps its place; a new one goes last; an emptied one leaves)."""
    changes: dict[str, dict[str, shards.Record | None]] = {}
    for name, version, add in edits:
        filename = _filename(name, version)
        changes.setdefault(name, {})[filename] = _record(name, version) if add else None
        files = model.setdefault(name, set())
        if add:
            files.add(filename)
        else:
            files.discard(filename)
    for name in sorted(changes):
        if model[name] and name not in order:
            order.append(name)
        if not model[name] and name in order:
            order.remove(name)
    shards.update(folder, "noarch", changes)
    _check(folder, model, order)


def _indexed(tmp_path: Path, names: list[str]) -> tuple[Path, dict[str, set[str]], list[str]]:
    """A noarch subdir whose shard index names `names` (version 1.0 each), with the model
    `_change` keeps: each name's files, and the names in the index's order."""
    folder = tmp_path / "noarch"
    folder.mkdir()
    shards.write_all(
        folder,
        "noarch",
        {"packages": {_filename(name, "1.0"): _record(name, "1.0") for name in names}},
    )
    return folder, {name: {_filename(name, "1.0")} for name in names}, sorted(names)


def test_a_patched_index_is_msgpacks_own_encoding(tmp_path: Path) -> None:
    folder, model, order = _indexed(tmp_path, [f"n{i:02d}" for i in range(14)])
    _check(folder, model, order)
    _change(folder, model, order, [("n03", "1.1", True)])  # a digest replaced in place
    _change(folder, model, order, [("new-a", "1.0", True), ("new-b", "1.0", True)])  # 16
    _change(folder, model, order, [("new-c", "2.0", True)])  # 17: the map's header grows
    _change(folder, model, order, [("n00", "1.0", False)])  # the first name leaves
    _change(folder, model, order, [("new-c", "2.0", False)])  # the last one leaves
    _change(folder, model, order, [("n07", "1.0", False), ("n07", "3.0", True)])
    _change(folder, model, order, [("n00", "1.0", True), ("n05", "1.0", False)])
    _change(folder, model, order, [("n09", "1.0", True)])  # the same shard again
    _change(folder, model, order, [("absent", "1.0", False)])  # nothing to remove
    for _ in range(3):  # down to a fixmap again, and back
        _change(folder, model, order, [(order[0], next(iter(model[order[0]])), False)])
    _change(folder, model, order, [(f"more{i}", "1.0", True) for i in range(5)])


def test_an_index_replaced_by_another_writer_is_read_again(tmp_path: Path) -> None:
    """Bytes kept in memory stand for the file they were written as: once another process
    replaced it (here: the same names in another order), a change starts from the file."""
    folder, model, order = _indexed(tmp_path, [f"p{i}" for i in range(20)])
    _change(folder, model, order, [("p1", "2.0", True)])
    _data, document = _written(folder)
    document["shards"] = dict(reversed(document["shards"].items()))
    other = folder / "elsewhere.tmp"
    other.write_bytes(shards.compress(msgpack.packb(document)))
    other.replace(folder / shards.SHARD_INDEX)
    order.reverse()
    _change(folder, model, order, [("p2", "2.0", True), ("q", "1.0", True)])
    _change(folder, model, order, [("p19", "1.0", False)])


@pytest.mark.parametrize("count", [0, 15, 16, 65535, 65536])
def test_the_map_header_is_msgpacks(count: int) -> None:
    names = {str(i): b"" for i in range(count)}
    encoded = shards._EncodedNames(names)
    assert encoded.packb({}) == msgpack.packb({"info": {}, "shards": names})


def test_encoded_bytes_out_of_step_are_encoded_again(tmp_path: Path) -> None:
    """Should the kept bytes ever lose an entry, the change is still written, from the map."""
    folder, model, order = _indexed(tmp_path, [f"r{i}" for i in range(20)])
    _change(folder, model, order, [("r1", "2.0", True)])
    cached = shards._INDEXES.entry(folder / shards.SHARD_INDEX)
    assert cached is not None and cached.encoded is not None
    del cached.encoded.body[:]  # out of step with the decoded map
    _change(folder, model, order, [("r2", "2.0", True), ("r3", "1.0", False)])
