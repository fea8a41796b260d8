"""Replicas end to end: a primary and a replica `drawbridge serve`, each with its own
PostgreSQL cluster (the replica's a streaming standby made with `pg_basebackup -R`, as
docs/operating.md says) and its own store; pip, py-rattler and the web UI on the replica.

The replica reaches its primary through a relay (`relay.Relay`) so a test can slow the
files down and kill the replica half-way through one. The standby is read-only: any write
a replica tried would fail these tests. Run in the PostgreSQL pass only (the clusters
are this module's own, so the session's cluster is never killed).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from builders import make_conda_tar_bz2, make_docs_zip, make_wheel
from clients import install_records, names_and_versions, pip_install, run_drawbridge, solve
from databases import MODE, PostgresCluster
from relay import Relay
from servers import Server, free_port, start_server

from drawbridge.channel.accounts import Accounts
from drawbridge.channel.home import Home, initialise_home
from drawbridge.channel.hosted_docs import DocsStore
from drawbridge.channel.schema import head
from drawbridge.channel.tokens import Role
from drawbridge.cli.lock_on_server import LOCAL_VARIABLE

pytestmark = [
    pytest.mark.database,
    pytest.mark.skipif(
        MODE != "postgresql", reason="replicas need PostgreSQL: the PostgreSQL pass runs them"
    ),
]


@dataclass
class Site:
    """A primary and its replica, their clusters, and the relay between them."""

    primary_db: PostgresCluster
    standby: PostgresCluster
    primary: Server
    replica: Server
    relay: Relay
    database: str  # the name of the home's database on both clusters
    replica_root: Path

    def restart_replica(self) -> None:
        self.replica = start_server(self.replica_root, port=int(self.replica.url.rsplit(":", 1)[1]))


def home_with(root: Path, url: str, **server: str) -> Home:
    """A home on `url` whose [server] table also says `server` (replica_of, replica_token)."""
    home = initialise_home(root, database_url=url)
    text = home.config_path.read_text()
    for key, value in server.items():
        text = text.replace(f'{key} = ""', f'{key} = "{value}"')
    home.config_path.write_text(text)
    return home


def standby_at_head(standby: PostgresCluster, database: str) -> bool:
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={standby.port} user=postgres dbname={database}"
        ) as connection:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error:
        return False
    return found is not None and found[0] == head()


def wait_for(condition, seconds: float = 30.0, step: float = 0.02) -> float:  # type: ignore[no-untyped-def]
    """Seconds until `condition()` held; fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "waited too long"
        time.sleep(step)
    return time.monotonic() - start


def lists(url: str, path: str, needle: str, token: str | None = None) -> bool:
    auth = ("__token__", token) if token else None
    try:
        answer = httpx.get(url + path, auth=auth, timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and needle in answer.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("site")
    primary_db = PostgresCluster.start()
    standby = PostgresCluster.standby_of(primary_db)
    url = primary_db.create_database("site")
    database = url.rsplit("/", 1)[1]
    token = secrets.token_hex(16)
    port = free_port()
    home_with(folder / "primary" / "home", url, replica_token=token)
    primary = start_server(folder / "primary" / "home", port=port)
    relay = Relay(primary.url).__enter__()
    replica_root = folder / "replica" / "home"
    home_with(replica_root, standby.url(database), replica_of=relay.url, replica_token=token)
    wait_for(lambda: standby_at_head(standby, database))
    replica = start_server(replica_root)
    made = Site(primary_db, standby, primary, replica, relay, database, replica_root)
    yield made
    made.replica.stop()
    made.primary.stop()
    relay.__exit__()
    standby.stop()
    primary_db.stop()


def test_what_the_primary_publishes_is_installable_from_the_replica(site: Site, tmp_path: Path):
    wheel = make_wheel(tmp_path, "rep-demo", "1.0")
    package = make_conda_tar_bz2(tmp_path, "rep-conda", "1.0")
    site.primary.publish(wheel, package)
    lag = wait_for(
        lambda: (
            lists(site.replica.url, "/main/simple/rep-demo/", wheel.name)
            and lists(site.replica.url, "/main/conda/noarch/repodata.json", package.name)
        )
    )
    assert lag < 2.0, f"the replica showed the publish after {lag:.2f} s"
    installed = pip_install(f"{site.replica.url}/main/simple/", tmp_path / "pip", "rep-demo")
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "pip" / "rep_demo").is_dir()
    records = solve([f"{site.replica.url}/main/conda"], ["rep-conda"])
    install_records(records, tmp_path / "env", tmp_path / "cache")
    assert names_and_versions(records) == ["rep-conda=1.0"]

    channels = site.primary.channels
    Accounts(channels.db).create_user("rita")
    channels.create("hidden")
    channels.access.set_permissions("hidden", read=["user:rita"])
    site.primary.publish(make_wheel(tmp_path, "secret-sauce", "1.0"), channel="hidden")
    reader = create_reader(site, "rita")
    wait_for(lambda: lists(site.replica.url, "/hidden/simple/", "secret-sauce", reader))
    assert httpx.get(f"{site.replica.url}/hidden/simple/").status_code == 404
    assert httpx.get(f"{site.replica.url}/hidden/").status_code == 404
    other = create_reader(site, "otto")

    def as_otto() -> int:
        return httpx.get(
            f"{site.replica.url}/hidden/simple/", auth=("__token__", other)
        ).status_code

    wait_for(lambda: as_otto() != 401)  # until the standby has otto's token
    assert as_otto() == 404  # a token of someone else: the channel does not exist for them
    docs = DocsStore(site.primary.home, channels.db)
    docs.upload("main", "rep-demo", "1.0", make_docs_zip(tmp_path))
    wait_for(lambda: lists(site.replica.url, "/main/docs/rep-demo/latest/", "Demo docs"))
    health = httpx.get(f"{site.replica.url}/health").json()
    assert health["missing_files"] == 0 and health["replica_of"] == site.relay.url
    assert health["replay_lag_seconds"] is not None


def create_reader(site: Site, user: str) -> str:
    """A reader token of `user`, made on the primary (its row reaches the standby)."""
    return site.primary.token(Role.reader, user)


def test_changes_are_refused_on_the_replica_with_the_primarys_url(site: Site, tmp_path: Path):
    wheel = make_wheel(tmp_path, "never-here", "1.0")
    token = site.primary.token(Role.uploader)
    with wheel.open("rb") as handle:
        answer = httpx.post(
            f"{site.replica.url}/main/upload/",
            data={":action": "file_upload"},
            files={"content": (wheel.name, handle)},
            auth=("__token__", token),
        )
    assert answer.status_code == 403
    assert site.relay.url in answer.json()["detail"] and "read-only replica" in answer.text
    promoted = httpx.post(f"{site.replica.url}/api/promote", json={}, auth=("__token__", token))
    assert promoted.status_code == 403 and site.relay.url in promoted.text
    published = run_drawbridge("publish", str(wheel), home=site.replica_root)
    assert published.returncode != 0 and site.relay.url in published.stderr
    made = run_drawbridge(
        "token", "create", "--user", "x", "--role", "reader", home=site.replica_root
    )
    assert made.returncode != 0 and site.relay.url in made.stderr
    assert not list(site.replica_root.rglob("never_here*"))
    assert httpx.get(f"{site.primary.url}/main/simple/never-here/").status_code == 404


def test_the_replica_serves_with_the_primary_down_and_catches_up(site: Site, tmp_path: Path):
    site.primary.publish(make_wheel(tmp_path, "before-outage", "1.0"))
    wait_for(lambda: lists(site.replica.url, "/main/simple/", "before-outage"))
    port = int(site.primary.url.rsplit(":", 1)[1])
    site.primary.kill()
    site.primary_db.kill()

    installed = pip_install(f"{site.replica.url}/main/simple/", tmp_path / "t", "before-outage")
    assert installed.returncode == 0, installed.stderr
    assert names_and_versions(solve([f"{site.replica.url}/main/conda"], ["rep-conda"])) == [
        "rep-conda=1.0"
    ]
    assert "before-outage" in httpx.get(f"{site.replica.url}/main/").text
    assert httpx.get(f"{site.replica.url}/health").status_code == 200

    site.primary_db.restart()
    site.primary = start_server(site.primary.home.root, port=port)
    site.primary.publish(make_wheel(tmp_path, "after-outage", "1.0"))
    wait_for(lambda: lists(site.replica.url, "/main/simple/", "after-outage"))
    again = pip_install(f"{site.replica.url}/main/simple/", tmp_path / "a", "after-outage")
    assert again.returncode == 0, again.stderr


def test_a_replica_killed_mid_fetch_fetches_the_file_again(site: Site, tmp_path: Path):
    big = make_wheel(
        tmp_path, "big-one", "1.0", extra_entries={"big_one/blob.bin": os.urandom(50 << 20)}
    )
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    incoming = site.replica_root / "incoming"
    target = site.replica_root / "channels" / "main" / "pypi" / "files" / big.name
    site.relay.rate = 10 << 20  # 5 s for the whole file
    try:
        site.primary.publish(big)

        def half_fetched() -> bool:
            sizes = []
            for path in incoming.glob(".replica-fetch.*"):
                try:
                    sizes.append(path.stat().st_size)
                except FileNotFoundError:
                    continue
            return any(0 < size < big.stat().st_size for size in sizes)

        wait_for(half_fetched)
        served = httpx.get(f"{site.replica.url}/main/files/{big.name}")
        assert served.status_code == 503 and served.headers["retry-after"] == "2"  # never part
        site.replica.kill()
        assert not target.exists()
    finally:
        site.relay.rate = None
    site.restart_replica()
    wait_for(lambda: target.exists())
    served = httpx.get(f"{site.replica.url}/main/files/{big.name}", timeout=60)
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == digest
    assert not list(incoming.glob(".replica-fetch.*"))


def test_a_site_s_clients_lock_at_the_replica(site: Site, tmp_path: Path):
    """A lock changes nothing (`POST /api/lock` passes the replica's refusal of changes):
    the replica makes it from what it serves, the same file the client makes itself."""
    package = make_conda_tar_bz2(tmp_path, "rep-locked", "1.0")
    site.primary.publish(package)
    wait_for(lambda: lists(site.replica.url, "/main/conda/noarch/repodata.json", package.name))
    environment = tmp_path / "environment.yml"
    environment.write_text("channels: [main]\ndependencies: [rep-locked]\n")
    answer = httpx.post(
        f"{site.replica.url}/api/lock",
        json={
            "environment": environment.read_text(),
            "server": site.replica.url,
            "platforms": ["linux-64"],
        },
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    here = run_drawbridge(
        *("lock", "--server", site.replica.url, str(environment), "-p", "linux-64"),
        env={LOCAL_VARIABLE: "1"},
    )
    assert here.returncode == 0, here.stdout + here.stderr
    assert (tmp_path / "drawbridge.lock").read_text() == answer.json()["lock"]
    assert f"{site.replica.url}/main/conda/noarch/{package.name}" in answer.json()["lock"]
