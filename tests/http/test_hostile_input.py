"""Issue 10, items 1 and 2: what a client sends can never break a channel.

Every conda package rattler's indexer (or a conda client) would refuse is refused before
anything is placed, with the reason, and the channel serves byte for byte what it served
before; a bad file that reaches the indexer anyway is quarantined and the rest indexed.
Decompression bombs are refused quickly at bounded memory.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import zipfile
from pathlib import Path

import bombs
import pytest
import zstandard
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_wheel
from served_state import InProcess, changed, conda_index_file, served_bytes

from drawbridge.channel.errors import ArchiveTooLarge, InvalidDistribution
from drawbridge.channel.home import Home
from drawbridge.channel.limits import MAX_CORE_METADATA, MiB
from drawbridge.channel.service import Channels


def _rezip(source: Path, folder: Path, method: int) -> Path:
    """The same .conda with its outer zip entries compressed by `method`."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    path = folder / source.name
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _conda_with_deflated_entries(d: Path) -> Path:
    return _rezip(
        make_noarch_python_conda(d / "src", "deflated", "1.0", "deflated"), d, zipfile.ZIP_DEFLATED
    )


def _conda_with_gzip_inner_archive(d: Path) -> Path:
    """A .conda whose inner archives are gzip tars under .tar.zst names."""
    source = make_noarch_python_conda(d / "src", "gzipped", "1.0", "gzipped")
    path = d / source.name
    with zipfile.ZipFile(source) as zf, zipfile.ZipFile(path, "w") as out:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename.endswith(".tar.zst"):
                data = gzip.compress(
                    zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
                )
            out.writestr(info.filename, data)
    return path


#: what conda clients or rattler's indexer refuse, and the reason a publish must give
REFUSED_CONDA = {
    "space in the name": (
        lambda d: make_conda_tar_bz2(d, "sp ace", "1.0"),
        "package name 'sp ace'",
    ),
    "non-ASCII name": (lambda d: make_conda_tar_bz2(d, "ñame", "1.0"), "package name 'ñame'"),
    "markup in the version": (
        lambda d: make_conda_tar_bz2(d, "xss", "<script>"),
        "version '<script>'",
    ),
    "space in the build": (
        lambda d: make_conda_tar_bz2(d, "spaced", "1.0", "a b"),
        "build string 'a b'",
    ),
    "markup in the build": (
        lambda d: make_conda_tar_bz2(d, "markup", "1.0", "<x>"),
        "build string '<x>'",
    ),
    "deflated .conda entries": (_conda_with_deflated_entries, "rattler reads only stored entries"),
    "inner archive not zstd": (_conda_with_gzip_inner_archive, "corrupt inner archive"),
    "a dependency no solver parses": (
        lambda d: make_conda_tar_bz2(d, "baddep", "1.0", depends=["<script> >1"]),
        "rattler's indexer refuses it",
    ),
    "a build number that is text": (
        lambda d: make_conda_tar_bz2(d, "badnum", "1.0", index={"build_number": "x"}),
        "rattler's indexer refuses it",
    ),
}


@pytest.fixture
def populated(channels: Channels, tmp_path: Path) -> Channels:
    """A channel serving a wheel and conda packages in two subdirs."""
    channels.publish_many(
        "main",
        [
            make_wheel(tmp_path / "good", "good", "1.0"),
            make_conda_tar_bz2(tmp_path / "good", "tool", "1.0", "0", "linux-64"),
            make_conda_tar_bz2(tmp_path / "good", "data", "1.0"),
        ],
    )
    return channels


@pytest.mark.parametrize("case", REFUSED_CONDA, ids=list(REFUSED_CONDA))
def test_what_rattler_refuses_is_refused_before_placing(
    populated: Channels, tmp_path: Path, case: str
):
    build, reason = REFUSED_CONDA[case]
    before = served_bytes(populated.home)
    with pytest.raises(InvalidDistribution, match=reason):
        populated.publish("main", build(tmp_path / "bad"))
    assert changed(before, served_bytes(populated.home)) == []
    assert not populated.home.channel("main").indexing_marker.exists()
    # the channel still takes conda packages: the uploads after a bad one got 500s
    populated.publish(
        "main", make_conda_tar_bz2(tmp_path / "next", "after", "1.0", "0", "linux-64")
    )
    repodata = conda_index_file(populated.conda_dir("main") / "linux-64")
    assert set(repodata["packages"]) == {"tool-1.0-0.tar.bz2", "after-1.0-0.tar.bz2"}


def test_bad_uploads_are_400_with_the_reason_and_retries_stay_400(home: Home, tmp_path: Path):
    client = InProcess(home)
    assert (
        client.upload(
            make_conda_tar_bz2(tmp_path / "good", "tool", "1.0", "0", "linux-64")
        ).status_code
        == 200
    )
    before = served_bytes(home)
    for case in ("space in the name", "markup in the version", "deflated .conda entries"):
        build, reason = REFUSED_CONDA[case]
        bad = build(tmp_path / case.replace(" ", "-"))
        for _attempt in range(2):  # the retry got a 409: the bad file had been recorded
            response = client.upload(bad)
            assert response.status_code == 400 and reason in response.json()["detail"], (
                response.text
            )
    assert changed(before, served_bytes(home)) == []
    assert not list(home.incoming_dir.iterdir())
    assert (
        client.upload(
            make_conda_tar_bz2(tmp_path / "good", "later", "1.0", "0", "linux-64")
        ).status_code
        == 200
    )
    assert (
        "later-1.0-0.tar.bz2" in client.get("/main/conda/linux-64/repodata.json").json()["packages"]
    )


def test_a_bad_file_at_index_time_is_quarantined_and_the_rest_indexed(
    populated: Channels, tmp_path: Path
):
    """A file placed by hand that rattler refuses: named, set aside, everything else indexed."""
    layout = populated.home.channel("main")
    subdir = populated.conda_dir("main") / "linux-64"
    (subdir / "broken-1.0-0.tar.bz2").write_bytes(b"not a package")
    make_conda_tar_bz2(subdir, "byhand", "1.0", "0", "linux-64")
    outcome = populated.reindex("main")
    assert [item.path for item in outcome.quarantined] == ["conda/linux-64/broken-1.0-0.tar.bz2"]
    assert "No index.json found" in outcome.quarantined[0].reason
    assert any("broken-1.0-0.tar.bz2" in line for line in outcome.lines())
    repodata = conda_index_file(subdir)
    assert set(repodata["packages"]) == {"tool-1.0-0.tar.bz2", "byhand-1.0-0.tar.bz2"}
    assert not layout.indexing_marker.exists()
    moved = layout.quarantine_dir / "conda" / "linux-64" / "broken-1.0-0.tar.bz2"
    assert moved.read_bytes() == b"not a package"
    note = json.loads(moved.with_name(moved.name + ".reason.json").read_text())
    assert (
        note["file"] == "conda/linux-64/broken-1.0-0.tar.bz2" and "No index.json" in note["reason"]
    )


def test_a_channel_the_old_bug_broke_is_repaired_on_start(populated: Channels, tmp_path: Path):
    """The issue's state: a package rattler refuses placed and recorded, `.indexing` stuck.
    A start (recovery) quarantines it, drops its record and indexes the rest."""
    from drawbridge.channel.database import CondaPackageRow
    from drawbridge.channel.storage import write_text_atomic

    layout = populated.home.channel("main")
    bad = make_conda_tar_bz2(layout.conda_dir / "linux-64", "sp ace", "1.0", "0", "linux-64")
    with populated.db.session() as session:
        session.add(
            CondaPackageRow(
                channel="main",
                subdir="linux-64",
                filename=bad.name,
                name="sp ace",
                version="1.0",
                build="0",
                sha256="0" * 64,
                size=bad.stat().st_size,
            )
        )
    write_text_atomic(layout.indexing_marker, '["linux-64"]')
    outcomes = populated.recover()
    assert [item.path for o in outcomes for item in o.quarantined] == [f"conda/linux-64/{bad.name}"]
    assert not layout.indexing_marker.exists()
    assert [row.filename for row in populated.conda_packages("main")] == [
        "data-1.0-0.tar.bz2",
        "tool-1.0-0.tar.bz2",
    ]
    note = json.loads(
        (layout.quarantine_dir / "conda" / "linux-64" / (bad.name + ".reason.json")).read_text()
    )
    assert note["record"]["name"] == "sp ace" and "not a valid package name" in note["reason"]
    populated.publish("main", make_conda_tar_bz2(tmp_path, "after", "1.0", "0", "linux-64"))
    repodata = conda_index_file(layout.conda_dir / "linux-64")
    assert set(repodata["packages"]) == {"tool-1.0-0.tar.bz2", "after-1.0-0.tar.bz2"}


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bombs.build_every_bomb(tmp_path_factory.mktemp("bombs"))


@pytest.mark.parametrize("case", bombs.BOMBS, ids=list(bombs.BOMBS))
def test_bombs_are_refused_quickly_with_the_reason(
    populated: Channels, bomb_files: dict[str, Path], case: str
):
    before = served_bytes(populated.home)
    started = time.monotonic()
    with pytest.raises(ArchiveTooLarge, match=bombs.BOMBS[case][1]):
        populated.publish("main", bomb_files[case])
    assert time.monotonic() - started < 15  # the wheel took 59 s
    assert changed(before, served_bytes(populated.home)) == []
    assert not list(populated.home.incoming_dir.iterdir())


def test_core_metadata_is_bounded_where_the_json_api_serves_it(home: Home, tmp_path: Path):
    """Not a bomb: METADATA that compresses badly but is over the cap is refused by size;
    one under the cap is published and served by the JSON API."""
    client = InProcess(home)
    noise = os.urandom(5 * MiB // 2).hex()  # 5 MiB of text that does not compress below 2x
    over = make_wheel(tmp_path / "over", "verbose", "1.0")
    _replace_description(over, noise)
    response = client.upload(over)
    assert response.status_code == 400
    assert f"over the limit of {MAX_CORE_METADATA:,} bytes" in response.json()["detail"]
    under = make_wheel(tmp_path / "under", "verbose", "1.1")
    _replace_description(under, noise[: 3 * MiB])
    assert client.upload(under).status_code == 200
    document = client.get("/main/pypi/verbose/json").json()
    assert len(document["info"]["description"]) >= 3 * MiB - 100


def _replace_description(wheel: Path, description: str) -> None:
    """Rewrite a wheel's METADATA with `description` as its body."""
    with zipfile.ZipFile(wheel) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    metadata = next(name for name in members if name.endswith("/METADATA"))
    members[metadata] = members[metadata].split(b"\n\n")[0] + b"\n\n" + description.encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
