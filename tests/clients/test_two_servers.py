"""Several servers, one home (issue 22): two `drawbridge serve` processes share one database
(this run's: the PostgreSQL pass puts both on one cluster) and one home folder. Publishes
split across both, at once, leave both serving the same bytes; one killed mid-publish
leaves the other serving, publishing and the home consistent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgpack
import pytest
import zstandard
from builders import make_conda_tar_bz2, make_wheel
from clients import names_and_versions, pip_install, run_drawbridge, solve, twine_upload
from served_state import assert_consistent
from servers import Server, start_server

from sqlalchemy import select

from drawbridge.channel.database import Database, PublishIntentRow
from drawbridge.channel.tokens import Role

#: the locks and the recovery are the database's: run on PostgreSQL too
pytestmark = pytest.mark.database
#: files each server is sent: this many wheels and as many conda packages
HALF = 25
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two servers of one home: the second is started on the home the first made."""
    root = tmp_path_factory.mktemp("pair") / "home"
    first = start_server(root)
    second = start_server(root)
    yield first, second
    second.stop()
    first.stop()


def served_indexes(server: Server, projects: list[str]) -> dict[str, bytes]:
    """What a client reads of the channel's indexes: repodata, the shard index and every
    shard it names, the simple root and each project's page (HTML and JSON)."""
    paths = [f"/main/conda/{s}/repodata.json" for s in ("noarch", "linux-64")]
    paths += [f"/main/conda/{s}/repodata_shards.msgpack.zst" for s in ("noarch", "linux-64")]
    found = {path: httpx.get(server.url + path, timeout=30) for path in paths}
    for subdir in ("noarch", "linux-64"):
        index = found[f"/main/conda/{subdir}/repodata_shards.msgpack.zst"].content
        document = msgpack.unpackb(zstandard.ZstdDecompressor().decompressobj().decompress(index))
        for digest in document["shards"].values():
            path = f"/main/conda/{subdir}/shards/{digest.hex()}.msgpack.zst"
            found[path] = httpx.get(server.url + path, timeout=30)
    for project in ["", *(f"{p}/" for p in projects)]:
        found[f"/main/simple/{project}"] = httpx.get(f"{server.url}/main/simple/{project}")
        found[f"json /main/simple/{project}"] = httpx.get(
            f"{server.url}/main/simple/{project}", headers=JSON
        )
    assert all(r.status_code == 200 for r in found.values()), {
        p: r.status_code for p, r in found.items() if r.status_code != 200
    }
    return {path: response.content for path, response in found.items()}


def leftovers(server: Server) -> list[str]:
    """What a publish killed midway left for recovery: its intents and index markers."""
    layout = server.home.channel("main")
    database = Database(server.home.database_url)
    try:
        with database.session() as session:
            intents = [f"{i.state} {i.path}" for i in session.scalars(select(PublishIntentRow))]
    finally:
        database.close()
    return intents + [m.name for m in (layout.indexing_marker, layout.pages_marker) if m.exists()]


def test_two_servers_share_one_home(pair: tuple[Server, Server], tmp_path: Path):
    servers = pair
    tokens = [server.token(Role.uploader) for server in servers]
    wheels = [make_wheel(tmp_path / "w", f"wheel{i:02d}", "1.0") for i in range(2 * HALF)]
    conda = [
        make_conda_tar_bz2(
            tmp_path / "c", f"pkg{i:02d}", "1.0", "0", "linux-64" if i % 2 else "noarch"
        )
        for i in range(2 * HALF)
    ]
    failures: list[object] = []

    def send_wheels(n: int) -> None:
        done = twine_upload(f"{servers[n].url}/main/upload/", tokens[n], *wheels[n::2])
        if done.returncode:
            failures.append(done.stdout + done.stderr)

    def send_conda(n: int) -> None:
        for path in conda[n::2]:
            answer = servers[n].upload(path, tokens[n])
            if answer.status_code != 200:
                failures.append((path.name, answer.status_code, answer.text))

    senders = [
        threading.Thread(target=f, args=(n,)) for f in (send_wheels, send_conda) for n in (0, 1)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(600)
    assert failures == []

    projects = [f"wheel{i:02d}" for i in range(2 * HALF)]
    first, second = (served_indexes(server, projects) for server in servers)
    assert first == second  # the same bytes from both servers
    root = httpx.get(f"{servers[0].url}/main/simple/", headers=JSON).json()
    assert sorted(p["name"] for p in root["projects"]) == projects
    listed = [
        name
        for subdir in ("noarch", "linux-64")
        for name in httpx.get(f"{servers[1].url}/main/conda/{subdir}/repodata.json").json()[
            "packages"
        ]
    ]
    assert sorted(listed) == sorted(path.name for path in conda)

    for n, server in enumerate(servers):  # real clients through each server
        records = solve([f"{server.url}/main/conda"], [f"pkg{n:02d}", f"pkg{n + 2:02d}"])
        assert names_and_versions(records) == [f"pkg{n:02d}=1.0", f"pkg{n + 2:02d}=1.0"]
        installed = pip_install(
            f"{server.url}/main/simple/", tmp_path / f"t{n}", f"wheel{(n + 1) % 2:02d}"
        )
        assert installed.returncode == 0, installed.stderr

    # one server killed in the middle of its publishes: the other serves and publishes on
    dying, living = servers
    late = [make_conda_tar_bz2(tmp_path / "k", f"late{i:02d}", "1.0") for i in range(30)]
    sent: list[str] = []

    def keep_sending() -> None:
        for path in late:
            try:
                if dying.upload(path, tokens[0]).status_code == 200:
                    sent.append(path.name)
            except httpx.HTTPError:
                return  # killed

    sender = threading.Thread(target=keep_sending)
    sender.start()
    noarch_dir = dying.home.channel("main").conda_dir / "noarch"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # killed once it has placed a file it has not answered
        if len(sent) >= 3 and {p.name for p in noarch_dir.glob("late*")} - set(sent):
            break
        time.sleep(0.001)
    dying.kill()
    sender.join(60)
    assert 3 <= len(sent) < len(late)
    left = leftovers(dying)
    assert left, "the server was killed between two publishes, not in one"
    served = httpx.get(f"{living.url}/main/conda/noarch/repodata.json", timeout=30)
    assert set(sent) <= set(served.json()["packages"])  # the other one serves on

    # the living server's next write into the channel settles what the dead one left
    after = [make_wheel(tmp_path / "a", "after", "1.0"), make_wheel(tmp_path / "a", "after", "1.1")]
    done = twine_upload(f"{living.url}/main/upload/", tokens[1], *after)
    assert done.returncode == 0, done.stdout + done.stderr
    assert leftovers(living) == []
    killed = late[len(sent)]  # never answered: published again, through the living server
    assert living.upload(killed, tokens[1]).status_code == 200
    noarch = httpx.get(f"{living.url}/main/conda/noarch/repodata.json").json()["packages"]
    assert {*sent, killed.name} <= set(noarch)
    page = httpx.get(f"{living.url}/main/simple/after/", headers=JSON).json()
    assert sorted(f["filename"] for f in page["files"]) == sorted(p.name for p in after)

    verified = run_drawbridge("verify", home=living.home.root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 quarantined" in verified.stdout
    assert_consistent(living.home)
