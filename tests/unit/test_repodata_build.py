"""repodata.json made again after a change re-encodes only the changed names' records
(`channel/repodata_files.py`, `_Built`): its bytes, and its channeldata part's, must be
those a build from nothing writes for the same shards, through every kind of change, and
a repodata.json another process wrote must be read again, not patched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from drawbridge.channel import repodata_files, shards


def _record(name: str, version: str) -> shards.Record:
    return {
        "build": "0",
        "build_number": 0,
        "depends": [f"dep-of-{name}"],
        "license": "MIT – über",  # written as is (ensure_ascii off)
        "md5": bytes(range(16)),
        "name": name,
        "sha256": bytes(range(32)),
        "version": version,
    }


def _change(folder: Path, edits: list[tuple[str, str, str, bool]]) -> None:
    changes: dict[str, dict[str, shards.Record | None]] = {}
    for name, version, extension, add in edits:
        filename = f"{name}-{version}-0{extension}"
        changes.setdefault(name, {})[filename] = _record(name, version) if add else None
    shards.update(folder, "noarch", changes)


def _check_against_a_build_from_nothing(folder: Path, tmp_path: Path) -> None:
    repodata_files.build(folder)
    reference = tmp_path / "reference" / folder.name
    shutil.rmtree(reference.parent, ignore_errors=True)
    shutil.copytree(folder, reference)
    (reference / repodata_files.SOURCE).unlink()  # no last build to start from
    repodata_files.build(reference)
    for name in ("repodata.json", repodata_files.PART):
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    body = (folder / "repodata.json").read_bytes()
    document = json.loads(body)
    for key in shards.PACKAGE_KEYS:
        assert list(document[key]) == sorted(document[key])
    assert body == json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    assert repodata_files.is_current(folder)


def test_repodata_made_again_is_what_a_build_from_nothing_writes(tmp_path: Path) -> None:
    folder = tmp_path / "noarch"
    folder.mkdir()
    shards.write_all(
        folder,
        "noarch",
        {"packages": {f"n{i}-1.0-0.tar.bz2": _record(f"n{i}", "1.0") for i in range(12)}},
    )
    _check_against_a_build_from_nothing(folder, tmp_path)
    assert str(folder) in repodata_files._BUILDS
    _change(folder, [("n3", "1.1", ".conda", True)])  # a new version, another key
    _check_against_a_build_from_nothing(folder, tmp_path)
    _change(folder, [("a-first", "0.1", ".tar.bz2", True), ("zz-last", "9", ".conda", True)])
    _check_against_a_build_from_nothing(folder, tmp_path)
    _change(folder, [("n3", "1.0", ".tar.bz2", False)])  # one of a name's files goes
    _check_against_a_build_from_nothing(folder, tmp_path)
    _change(folder, [("n5", "1.0", ".tar.bz2", False)])  # a name goes
    _check_against_a_build_from_nothing(folder, tmp_path)
    _change(folder, [("n5", "2.0", ".tar.bz2", True), ("n1", "1.0", ".tar.bz2", False)])
    _check_against_a_build_from_nothing(folder, tmp_path)
    # another process made repodata.json meanwhile (a new file, the same stamp): the
    # pieces kept here no longer stand for it
    shutil.copy(folder / "repodata.json", tmp_path / "copy.json")
    (tmp_path / "copy.json").replace(folder / "repodata.json")
    _change(folder, [("n7", "3.0", ".conda", True)])
    _check_against_a_build_from_nothing(folder, tmp_path)
    # more names than are put in place one by one: appended, then sorted
    _change(folder, [(f"m{i}", "1", ".tar.bz2", True) for i in range(70)])
    _check_against_a_build_from_nothing(folder, tmp_path)


def test_channeldata_made_again_is_what_a_write_from_nothing_writes(tmp_path: Path) -> None:
    """channeldata.json, changed name by name over two subdirs, equals one written from
    nothing from the same parts: each name's subdirs and its newest version."""
    conda = tmp_path / "conda"
    folders = [conda / "linux-64", conda / "noarch"]
    for folder in folders:
        folder.mkdir(parents=True)
        shards.write_all(
            folder,
            folder.name,
            {"packages": {f"c{i}-1.0-0.tar.bz2": _record(f"c{i}", "1.0") for i in range(6)}},
        )

    def check() -> dict[str, Any]:
        for folder in folders:
            repodata_files.build(folder)
        repodata_files.write_channeldata(conda, folders)
        reference = tmp_path / "reference"
        shutil.rmtree(reference, ignore_errors=True)
        shutil.copytree(conda, reference)
        repodata_files.write_channeldata(reference, [reference / f.name for f in folders])
        body = (conda / "channeldata.json").read_bytes()
        assert body == (reference / "channeldata.json").read_bytes()
        document: dict[str, Any] = json.loads(body)
        assert body == json.dumps(document).encode()
        return document

    assert str(conda) not in repodata_files._MERGED
    check()
    assert str(conda) in repodata_files._MERGED
    _change(folders[1], [("c2", "2.0", ".conda", True)])  # newer in noarch only
    document = check()
    assert document["packages"]["c2"] == {"subdirs": ["linux-64", "noarch"], "version": "2.0"}
    _change(folders[0], [("c3", "1.0", ".tar.bz2", False)])  # gone from linux-64
    _change(folders[1], [("c3", "1.0", ".tar.bz2", False), ("b-new", "1", ".conda", True)])
    document = check()
    assert "c3" not in document["packages"]
    assert document["packages"]["b-new"] == {"subdirs": ["noarch"], "version": "1"}
    _change(folders[0], [(f"many{i}", "1", ".conda", True) for i in range(70)])  # > FEW
    check()
    _change(folders[0], [("c0", "1.0", ".tar.bz2", False)])
    assert check()["subdirs"] == ["linux-64", "noarch"]


def test_channeldata_is_written_again_when_recovery_took_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's start sweeps the channel's temporary files under the channel lock, which
    a reader making channeldata.json does not hold: its temporary can go before the
    rename (FileNotFoundError; seen in CI, where the first read then served the old
    channeldata). As for repodata.json, the write is tried again."""
    conda = tmp_path / "conda"
    folder = conda / "noarch"
    folder.mkdir(parents=True)
    shards.write_all(folder, "noarch", {"packages": {"c-1.0-0.tar.bz2": _record("c", "1.0")}})
    repodata_files.build(folder)
    real = repodata_files.write_channeldata
    calls: list[int] = []

    def swept_the_first_time(*args: Any) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", ".channeldata.json.x.tmp")
        real(*args)

    monkeypatch.setattr(repodata_files, "write_channeldata", swept_the_first_time)
    assert repodata_files.ensure_channel(conda) is True
    assert calls == [0, 1]
    assert (
        json.loads((conda / "channeldata.json").read_bytes())["packages"]["c"]["version"] == "1.0"
    )
    assert repodata_files.ensure_channel(conda) is False  # current now: nothing to do
