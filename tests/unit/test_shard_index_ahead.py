"""A publish works out its change to the shard index before its file is placed, and the
new index is compressed and written beside the old one on a thread meanwhile
(`shards.work_ahead`, issue 22): the update after it must rename that file into place
when it is for the same change to the same index, and otherwise work the change out
again; a change worked out and not taken, or an update that fails, leaves no file."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import msgpack
import pytest
from served_state import no_temporaries, temporaries

from drawbridge.channel import shards, storage
from drawbridge.channel.storage import wait_for_releases

from test_shard_index import _change, _check, _filename, _indexed, _record, _written

Changes = dict[str, dict[str, shards.Record | None]]


def _adding(name: str, version: str) -> Changes:
    return {name: {_filename(name, version): _record(name, version)}}


def _written_ahead(folder: Path) -> bytes:
    """The new index the thread wrote beside the old one (waiting for it)."""
    ahead = shards._AHEAD._by_path[str(folder / shards.SHARD_INDEX)]
    path = ahead.written.result(timeout=10)
    assert temporaries(folder) == [path]
    return path.read_bytes()


@pytest.mark.parametrize(
    "edits",
    [
        [("n03", "1.1", True)],  # a digest replaced in place
        [("new", "1.0", True)],  # a name appended
        [("n00", "1.0", False)],  # a name cut out
        [("n07", "1.0", False), ("n07", "3.0", True), ("other", "1.0", True)],
    ],
)
def test_the_index_written_ahead_is_the_one_put_in_place(
    tmp_path: Path, edits: list[tuple[str, str, bool]]
) -> None:
    folder, model, order = _indexed(tmp_path, [f"n{i:02d}" for i in range(20)])
    changes: Changes = {}
    for name, version, add in edits:
        changes.setdefault(name, {})[_filename(name, version)] = (
            _record(name, version) if add else None
        )
    shards.work_ahead(folder, "noarch", changes)
    ahead = _written_ahead(folder)
    _change(folder, model, order, edits)  # checks the bytes are msgpack's own encoding
    assert (folder / shards.SHARD_INDEX).read_bytes() == ahead
    shards.drop_ahead(folder)
    wait_for_releases()  # the old index, linked aside, goes on a thread the writer waits for
    assert temporaries(folder) == []
    cached = shards.read_index(folder)
    assert cached == _written(folder)[1]


def test_a_change_worked_out_for_other_changes_is_not_written(tmp_path: Path) -> None:
    folder, model, order = _indexed(tmp_path, [f"a{i}" for i in range(20)])
    shards.work_ahead(folder, "noarch", _adding("a1", "2.0"))
    ahead = _written_ahead(folder)
    _change(folder, model, order, [("a2", "2.0", True)])
    assert (folder / shards.SHARD_INDEX).read_bytes() != ahead
    a1 = shards.read_shard(folder, _written(folder)[1]["shards"]["a1"])
    assert _filename("a1", "2.0") not in a1["packages"]
    no_temporaries(folder)


def test_an_index_changed_since_is_worked_out_again(tmp_path: Path) -> None:
    """Worked out, then the index changed (here by another update; a publish holds the
    channel lock, so it is another process's): the update starts from the index as it is."""
    folder, model, order = _indexed(tmp_path, [f"b{i}" for i in range(20)])
    shards.work_ahead(folder, "noarch", _adding("b1", "2.0"))
    ahead = _written_ahead(folder)
    other = tmp_path / "other"
    shards.update(folder, "noarch", _adding("late", "1.0"))  # drops what was worked out
    model["late"], order = {_filename("late", "1.0")}, [*order, "late"]
    shards.work_ahead(folder, "noarch", _adding("b1", "2.0"))
    _written_ahead(folder)
    # another process replaces the index: the same names, the other way round
    _data, document = _written(folder)
    document["shards"] = dict(reversed(document["shards"].items()))
    other.write_bytes(shards.compress(msgpack.packb(document)))
    other.replace(folder / shards.SHARD_INDEX)
    order.reverse()
    _change(folder, model, order, [("b1", "2.0", True)])
    assert (folder / shards.SHARD_INDEX).read_bytes() != ahead
    no_temporaries(folder)


def test_a_change_dropped_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    folder, model, order = _indexed(tmp_path, [f"c{i}" for i in range(20)])
    before = (folder / shards.SHARD_INDEX).read_bytes()
    shards.work_ahead(folder, "noarch", _adding("c1", "2.0"))
    shards.drop_ahead(folder)
    no_temporaries(folder)
    assert (folder / shards.SHARD_INDEX).read_bytes() == before
    _check(folder, model, order)


def test_an_update_that_fails_leaves_no_new_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, model, order = _indexed(tmp_path, [f"d{i}" for i in range(20)])
    before = (folder / shards.SHARD_INDEX).read_bytes()
    shards.work_ahead(folder, "noarch", _adding("d1", "2.0"))

    def full_disk(pending: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(shards, "_write_shards", full_disk)
        with pytest.raises(OSError):
            shards.update(folder, "noarch", _adding("d1", "2.0"))
        with pytest.raises(OSError):  # and without a change worked out ahead
            shards.update(folder, "noarch", _adding("d2", "2.0"))
    no_temporaries(folder)
    assert (folder / shards.SHARD_INDEX).read_bytes() == before
    _check(folder, model, order)
    _change(folder, model, order, [("d1", "2.0", True)])  # and the next one goes through


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_writes_its_own_index(tmp_path: Path) -> None:
    """A process that forks after an update (a server starting its workers after settling
    what a crash left) must not hand its child the parent's thread pool: the child's pool
    would count the parent's thread as idle and never run what it is given."""
    folder, model, order = _indexed(tmp_path, [f"e{i}" for i in range(20)])
    _change(folder, model, order, [("e1", "2.0", True)])  # the pool made, its thread idle
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        signal.alarm(20)  # a hang ends the child with SIGALRM
        try:
            shards.update(folder, "noarch", _adding("e2", "2.0"))
        finally:
            os._exit(0)
    _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked child never wrote its index"
    model["e2"].add(_filename("e2", "2.0"))
    _check(folder, model, order)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_fork_while_another_thread_holds_the_locks(tmp_path: Path) -> None:
    """A fork while another thread holds the locks of the kept indexes, compressors and
    releases: the child's locks are its own, free (not the parent's, held for ever)."""
    folder, model, order = _indexed(tmp_path, [f"f{i}" for i in range(20)])
    _change(folder, model, order, [("f1", "2.0", True)])
    locks = [shards._INDEXES._lock, shards._COMPRESSORS._lock, storage._RELEASES._lock]
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        for lock in locks:
            lock.acquire()
        held.set()
        done.wait()
        for lock in locks:
            lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's outcome is its exit status
            signal.alarm(20)
            try:
                shards.update(folder, "noarch", _adding("f2", "2.0"))
                wait_for_releases()
            finally:
                os._exit(0)
        _pid, status = os.waitpid(child, 0)
    finally:
        done.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0, "the forked child waited on a lock"
    model["f2"].add(_filename("f2", "2.0"))
    _check(folder, model, order)
