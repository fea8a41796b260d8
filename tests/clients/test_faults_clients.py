"""Issue 10, items 3, 4 and 6: a crash, a full disk or a damaged file never breaks a channel.

- SIGKILL of `drawbridge publish` or of the server at each step of a publish (the
  `DRAWBRIDGE_TEST_CRASH_AT` hook of `drawbridge.channel.faults`); after a restart every
  recorded file is indexed and downloadable with its recorded hash, nothing unrecorded is
  left, and the same publish run again succeeds.
- A full disk (a small tmpfs home, when run as root) and other OS failures: 507 or a
  clear 5xx, nothing recorded, no orphan, no half page.
- `drawbridge verify` and `drawbridge index --force` name and quarantine damaged files.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from databases import new_home
from servers import start_server
from served_state import assert_consistent, changed, InProcess, served_and_recorded, served_bytes
from sqlalchemy import select

from drawbridge.channel.database import Database, PublishIntentRow
from drawbridge.channel.faults import CRASH_SAID, CRASH_VARIABLE
from drawbridge.channel import repodata_files, shards
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels
from drawbridge.channel.storage import RESERVE_BYTES, RESERVE_NAME, ensure_reserve
from drawbridge.channel.tokens import Role
from clients import run_drawbridge

#: recovery, migrations and init are about the database: run on PostgreSQL too
pytestmark = pytest.mark.database


def _batch(folder: Path) -> list[Path]:
    """Wheels, an sdist and conda packages in two subdirs: every kind of file and index."""
    return [
        *(make_wheel(folder, f"crash{i}", "1.0") for i in range(3)),
        make_sdist(folder, "crash0", "1.0"),
        *(make_conda_tar_bz2(folder, f"tool{i}", "1.0", "0", "linux-64") for i in range(3)),
        make_conda_tar_bz2(folder, "data", "1.0"),
    ]


CRASH_POINTS = [
    "placing#3",
    "placed#3",
    "recorded#3",
    "placed#6",
    "recorded#7",
    "pages",
    "indexing",
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_publish_killed_at_each_step_is_recovered_and_can_be_rerun(
    home: Home, tmp_path: Path, point: str
):
    files = [str(p) for p in _batch(tmp_path / "files")]
    killed = run_drawbridge(
        "publish", "--home", str(home.root), *files, env={CRASH_VARIABLE: point}
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr

    recovered = Channels(home, Database(home.database_url)).recover()  # what a server start runs
    assert recovered, "a crash left nothing to reconcile?"
    assert_consistent(home)

    again = run_drawbridge("publish", "--home", str(home.root), *files)
    assert again.returncode == 0, again.stdout + again.stderr
    wheels, packages = assert_consistent(home)
    assert len(wheels) + len(packages) == len(files)


def test_a_batch_killed_while_writing_shards_leaves_no_shard_behind(home: Home, tmp_path: Path):
    """A publish killed between writing shards and the shard index (issue 22: a failed
    batch once left 1,905 shard files) is recovered with every shard the index does not
    name removed, and the shard index naming only files that are there."""
    files = [
        str(make_conda_tar_bz2(tmp_path / "f", f"tool{i}", "1.0", "0", "linux-64"))
        for i in range(6)
    ]
    killed = run_drawbridge(
        "publish", "--home", str(home.root), *files, env={CRASH_VARIABLE: "sharding#3"}
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    folder = home.channel("main").conda_dir / "linux-64"

    def shard_files() -> tuple[set[str], set[str]]:
        index = shards.read_index(folder) or {"shards": {}}
        named = {f"{digest.hex()}.msgpack.zst" for digest in index["shards"].values()}
        return named, {path.name for path in (folder / "shards").iterdir()}

    named, present = shard_files()
    assert len(present - named) == 3  # the kill left the shards it had written
    Channels(home, Database(home.database_url)).recover()  # what a server start runs
    named, present = shard_files()
    assert present == named and len(named) == 6
    assert_consistent(home)


def test_index_reconciles_what_a_killed_publish_left(home: Home, tmp_path: Path):
    """`drawbridge index` settles intents too: the orphan is removed, the recorded file indexed."""
    files = [str(p) for p in _batch(tmp_path / "files")]
    assert (
        run_drawbridge(
            "publish", "--home", str(home.root), *files[:5], env={CRASH_VARIABLE: "recorded#5"}
        ).returncode
        == -9
    )
    assert (
        run_drawbridge(
            "publish", "--home", str(home.root), files[5], env={CRASH_VARIABLE: "placed"}
        ).returncode
        == -9
    )
    result = run_drawbridge("index", "--home", str(home.root))
    assert result.returncode == 0, result.stderr
    assert (
        "removed conda/linux-64/tool1-1.0-0.tar.bz2, placed by a publish that crashed"
        in result.stderr
    )
    assert (
        "indexed conda/linux-64/tool0-1.0-0.tar.bz2, recorded by a publish that crashed"
        in result.stderr
    )
    wheels, packages = assert_consistent(home)
    assert len(wheels) + len(packages) == 5


@pytest.mark.parametrize("point", ["placed", "recorded", "indexing"])
def test_server_killed_during_an_upload_recovers_on_restart(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
):
    package = make_conda_tar_bz2(tmp_path, "uploaded", "1.0", "0", "linux-64")
    monkeypatch.setenv(CRASH_VARIABLE, point)
    server = start_server(home.root)
    try:
        token = server.token(Role.uploader)
        with pytest.raises(httpx.HTTPError):
            server.upload(package, token)  # the worker SIGKILLs itself at `point`
    finally:
        server.kill()  # and the rest of the server with it
    # granian respawns the killed worker, and the new one may start recovering before
    # server.kill() comes: what the disk holds now proves nothing. The worker's last words do.
    log = (home.root.parent / f"server-{server.url.rsplit(':', 1)[1]}.log").read_text()
    assert f"{CRASH_SAID} {point}\n" in log, log
    monkeypatch.delenv(CRASH_VARIABLE)
    restarted = start_server(home.root)
    try:
        deadline = time.monotonic() + 60
        while _pending(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert_consistent(home)
        again = restarted.upload(package, restarted.token(Role.uploader))
        assert again.status_code == 200, again.text
        assert_consistent(home)
        repodata = httpx.get(f"{restarted.url}/main/conda/linux-64/repodata.json").json()
        assert "uploaded-1.0-0.tar.bz2" in repodata["packages"]
    finally:
        restarted.stop()


def _pending(home: Home) -> bool:
    """Whether recovery still has work: an intent or an index marker."""
    layout = home.channel("main")
    with Database(home.database_url).session() as session:
        intents = session.scalar(select(PublishIntentRow.id))
    return intents is not None or layout.indexing_marker.exists() or layout.pages_marker.exists()


def test_the_same_bytes_again_are_a_success_and_other_bytes_a_409(home: Home, tmp_path: Path):
    client = InProcess(home)
    wheel = make_wheel(tmp_path / "a", "again", "1.0")
    assert client.upload(wheel).text == f"published {wheel.name}\n"
    before = served_bytes(home)
    response = client.upload(wheel)
    assert response.status_code == 200 and response.text == f"already published {wheel.name}\n"
    assert changed(before, served_bytes(home)) == []
    other = make_wheel(tmp_path / "b", "again", "1.0", extra_entries={"again/x.py": b"2"})
    assert client.upload(other).status_code == 409
    result = run_drawbridge("publish", "--home", str(home.root), str(wheel))
    assert result.returncode == 0 and f"already published {wheel.name}" in result.stdout


def _mount_tmpfs(folder: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs home needs root")
    folder.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def small_home(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A home on a 24 MiB tmpfs, with a wheel and a conda package published."""
    mount = tmp_path / "tmpfs"
    _mount_tmpfs(mount, "24m")
    try:
        home = new_home(mount / "home")
        Channels(home, Database(home.database_url)).create("main")
        yield home
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leave_free(folder: Path, free: int) -> None:
    """Fill the filesystem of `folder` to the last byte, then free `free` bytes of it."""
    filler = folder / "filler"
    with filler.open("ab", buffering=0) as handle:
        for size in (1024 * 1024, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    os.truncate(filler, max(filler.stat().st_size - free, 0))


def _refill(root: Path, free: int) -> None:
    """A home whose disk filled up again after an operator made room: the reserve taken
    back, and `free` bytes left."""
    (root / "filler").unlink(missing_ok=True)
    assert ensure_reserve(root)
    _leave_free(root, free)


#: free bytes left for each attempt: from none to enough, so each fails somewhere else
FREE_SPACE = [0, *(int(4096 * 1.3**k) for k in range(32))]


def test_a_full_disk_is_507_and_leaves_nothing_behind(small_home: Home, tmp_path: Path):
    """Uploads into a home filled to the last byte but for a little more room each time:
    every answer is a success or a 507, and a 507 changes nothing the channel serves or
    records. The attempts fail in different places: receiving the upload, staging and
    trying it, the database, the pages, rattler's repodata."""
    client = InProcess(small_home)
    assert client.upload(make_wheel(tmp_path, "base", "1.0")).status_code == 200
    assert (
        client.upload(make_conda_tar_bz2(tmp_path, "basetool", "1.0", "0", "linux-64")).status_code
        == 200
    )
    candidates = [
        make_wheel(
            tmp_path / "new", "newwheel", "1.0", extra_entries={"newwheel/blob": os.urandom(40_000)}
        ),
        make_conda_tar_bz2(
            tmp_path / "new",
            "newtool",
            "1.0",
            "0",
            "linux-64",
            members={"share/blob": os.urandom(40_000)},
        ),
    ]
    failed_while: set[str] = set()
    for free in FREE_SPACE:
        for candidate in list(candidates):
            # the reserve there each time (without it, uploads are refused up front: the
            # next test); repodata and channeldata a success left stale made first, while
            # there is room (on a full disk the last ones stay served, and a later read
            # would make them: not this upload's doing)
            repodata_files.ensure_channel(small_home.channel("main").conda_dir)
            _refill(small_home.root, free)
            before = served_and_recorded(small_home)
            response = client.upload(candidate)
            if response.status_code == 200:
                candidates.remove(candidate)
                continue
            assert response.status_code == 507, response.text
            detail = response.json()["detail"]
            assert "no space left" in detail or "disk is full" in detail, detail
            failed_while.add(detail.split(":")[0].replace(candidate.name, "<file>"))
            after = served_and_recorded(small_home)
            assert changed(before[0], after[0]) == [] and before[1] == after[1], (
                candidate.name,
                detail,
            )
            assert not list(small_home.incoming_dir.iterdir()), "an upload left behind"
        if not candidates:
            break
    assert not candidates, "never published, even with room"
    # recording the file fails for want of room only when the database is on this disk
    # (SQLite in the home), not when it is a PostgreSQL server's
    recording = {"publishing <file> into 'main'"} if not small_home.server.database_url else set()
    assert {"receiving an upload", "indexing channel 'main'", *recording} <= failed_while, (
        failed_while
    )
    (small_home.root / "filler").unlink()
    Channels(small_home, Database(small_home.database_url)).recover()
    wheels, packages = assert_consistent(small_home)
    assert "newwheel-1.0-py3-none-any.whl" in {r.filename for r in wheels}
    assert "newtool-1.0-0.tar.bz2" in {r.filename for r in packages}


def test_once_the_reserve_is_used_uploads_are_refused_up_front_until_there_is_room(
    small_home: Home, tmp_path: Path
):
    """Issue 16, item 5: after a publish was undone with the reserve on a nearly full disk,
    each further upload used to fail at indexing again and, with no reserve left to record
    the undoing, stay recorded (and indexed later) behind its 507, its intent and the
    `.indexing` marker kept until a restart. Now every one is refused before anything is
    written, saying why, while the reserve cannot be made again; with room, uploads work
    and the reserve is back."""
    client = InProcess(small_home)
    reserve = small_home.root / RESERVE_NAME
    assert client.upload(make_wheel(tmp_path, "base", "1.0")).status_code == 200
    assert (
        client.upload(make_conda_tar_bz2(tmp_path, "basetool", "1.0", "0", "linux-64")).status_code
        == 200
    )
    assert reserve.stat().st_size == RESERVE_BYTES

    def wheel(name: str) -> Path:
        return make_wheel(
            tmp_path / name, name, "1.0", extra_entries={f"{name}/blob": os.urandom(40_000)}
        )

    def package(name: str) -> Path:
        return make_conda_tar_bz2(
            tmp_path / name, name, "1.0", "0", "linux-64", members={"b": os.urandom(40_000)}
        )

    for step, free in enumerate(FREE_SPACE):  # a little more room each time, the reserve
        _refill(small_home.root, free)  # in place, until a file recorded fails its pages
        before = served_and_recorded(small_home)
        response = client.upload(wheel(f"undone{step}"))
        assert response.status_code == 507, response.text
        assert served_and_recorded(small_home) == before, response.text
        if response.json()["detail"].startswith("indexing channel 'main'"):
            break
    else:
        pytest.fail("no upload failed while indexing")
    # SQLite in the home needed the reserve's room to record the undoing, and cannot give
    # it back; a PostgreSQL database lives elsewhere, so the reserve is made again at once
    in_home = not small_home.server.database_url
    assert reserve.exists() is not in_home
    published = {"base-1.0-py3-none-any.whl", "basetool-1.0-0.tar.bz2"}
    for attempt, room in enumerate([free, free, 2 * free, RESERVE_BYTES // 2, free]):
        _leave_free(small_home.root, room)
        before, reserved = served_and_recorded(small_home), reserve.exists()
        candidate = (wheel if attempt % 2 else package)(f"after{attempt}")
        response = client.upload(candidate)
        if response.status_code == 200 and reserved:  # PostgreSQL's, with room enough
            published.add(candidate.name)
            continue
        assert response.status_code == 507, (candidate.name, response.text)
        if not reserved:
            assert response.json()["detail"] == (
                f"publishing {candidate.name} into 'main': refused, no space left for the 1 MiB "
                "reserve (`.reserve` in the Drawbridge home) that lets a publish be undone on "
                "a full disk; free some space and retry"
            )
        assert served_and_recorded(small_home) == before, candidate.name
        assert not list(small_home.incoming_dir.iterdir()), "an upload left behind"
        assert client.get(f"/main/simple/{candidate.name.split('-')[0]}/").status_code == 404
    assert in_home or reserve.exists()

    (small_home.root / "filler").unlink()
    last = wheel("roomy")
    assert client.upload(last).status_code == 200
    assert reserve.stat().st_size == RESERVE_BYTES
    wheels, packages = assert_consistent(small_home)
    assert {r.filename for r in [*wheels, *packages]} == published | {last.name}


def test_verify_names_and_quarantines_what_does_not_match(home: Home, tmp_path: Path):
    channels = Channels(home, Database(home.database_url))
    wheel, package, keep = (
        make_wheel(tmp_path, "damaged", "1.0"),
        make_conda_tar_bz2(tmp_path, "flipped", "1.0", "0", "linux-64"),
        make_conda_tar_bz2(tmp_path, "intact", "1.0", "0", "linux-64"),
    )
    channels.publish_many("main", [wheel, package, keep])
    stored_package = channels.conda_dir("main") / "linux-64" / package.name
    data = bytearray(stored_package.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    stored_package.write_bytes(bytes(data))
    (channels.files_dir("main") / wheel.name).write_bytes(b"truncated")
    metadata = channels.files_dir("main") / (wheel.name + ".metadata")

    result = run_drawbridge("verify", "--home", str(home.root))
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"main/pypi/files/{wheel.name}: does not match its record: it is 9 bytes" in result.stderr
    )
    assert (
        f"main/conda/linux-64/{package.name}: does not match its record: its sha256 is"
        in result.stderr
    )
    quarantine = home.channel("main").quarantine_dir
    assert (quarantine / "conda" / "linux-64" / package.name).read_bytes() == bytes(data)
    assert not metadata.exists()
    wheels, packages = assert_consistent(home)
    assert wheels == [] and [p.filename for p in packages] == [keep.name]
    assert run_drawbridge("verify", "--home", str(home.root)).returncode == 0
    # the good bytes can be published again under the freed name
    assert channels.publish("main", package).already_published is False


def test_index_force_names_a_broken_file_and_indexes_the_rest(home: Home, tmp_path: Path):
    channels = Channels(home, Database(home.database_url))
    broken, intact = (
        make_conda_tar_bz2(tmp_path, n, "1.0", "0", "linux-64") for n in ("broken", "intact")
    )
    channels.publish_many("main", [broken, intact])
    stored = channels.conda_dir("main") / "linux-64" / broken.name
    stored.write_bytes(stored.read_bytes()[:100])  # the crash: "No index.json found"
    result = run_drawbridge("index", "--force", "--home", str(home.root))
    assert result.returncode == 0, result.stderr
    assert (
        f"quarantined main/conda/linux-64/{broken.name}: rattler's indexer refuses it"
        in result.stderr
    )
    assert not home.channel("main").indexing_marker.exists()
    _wheels, packages = assert_consistent(home)
    assert [p.filename for p in packages] == [intact.name]
