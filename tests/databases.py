"""The database behind the tests' homes: SQLite (the default), or PostgreSQL when
`DRAWBRIDGE_TEST_DATABASE=postgresql`, on a cluster the tests start themselves.

The cluster is Debian's PostgreSQL (`/usr/lib/postgresql/<version>/bin`), made with
`initdb` as an unprivileged user (PostgreSQL refuses to run as root) in a temporary folder,
listening on 127.0.0.1 at a free port, durability off (a test cluster need not survive a
power cut), in a real language's collation and a time zone that is not UTC. Every home a
test makes gets a schema of its own in one database (`CREATE DATABASE` costs 0.3 s, a
schema a few ms), its URL naming the schema as the connections' search_path, so homes are
as independent as their SQLite files are.

Tests make homes through `new_home` (in-process) or pass `init_arguments()` to
`drawbridge init`; a home made another way would quietly use SQLite, and the session's
end names any `drawbridge.db` that appeared in a PostgreSQL run (see conftest).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import tiers

from drawbridge.channel.home import Home, initialise_home

#: "sqlite" or "postgresql": what the homes of this test run use
MODE = os.environ.get("DRAWBRIDGE_TEST_DATABASE", "sqlite").lower()
MODES = ("sqlite", "postgresql")
#: the user the cluster runs as when the tests run as root
CLUSTER_USER_CANDIDATES = ("postgres", "nobody")


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def postgres_bindir() -> Path:
    """The newest Debian PostgreSQL's bin folder, else the folder of `pg_ctl` on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing(
        "PostgreSQL is not installed: `make test` installs Debian's postgresql when run as "
        "root; elsewhere install it, or run with DRAWBRIDGE_TEST_DATABASE=sqlite"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cluster_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: None when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in CLUSTER_USER_CANDIDATES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresMissing(f"running as root and none of {CLUSTER_USER_CANDIDATES} exists")


@dataclass
class PostgresCluster:
    """A running PostgreSQL cluster in `folder`, reachable at 127.0.0.1:`port`."""

    folder: Path
    port: int
    bindir: Path
    user: pwd.struct_passwd | None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))
    _homes_database: str = ""

    @classmethod
    def start(cls) -> PostgresCluster:
        bindir = postgres_bindir()
        user = _cluster_user()
        folder = Path(tempfile.mkdtemp(prefix="drawbridge-pg-"))
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
        cluster = cls(folder=folder, port=_free_port(), bindir=bindir, user=user)
        cluster._run(
            "initdb",
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            # a real language's collation, as production clusters have: code that leaves
            # ordering to the database (`a_b` before `a1` here, after it in Python) shows
            "--locale-provider=icu",
            "--icu-locale=en-US",
            "--no-sync",
        )
        cluster._start()
        return cluster

    @classmethod
    def standby_of(cls, primary: PostgresCluster) -> PostgresCluster:
        """A streaming hot standby of `primary`, made as docs/operating.md says
        (`pg_basebackup -R`), in a folder and on a port of its own."""
        folder = Path(tempfile.mkdtemp(prefix="drawbridge-pg-standby-"))
        if primary.user is not None:
            os.chown(folder, primary.user.pw_uid, primary.user.pw_gid)
        standby = cls(folder=folder, port=_free_port(), bindir=primary.bindir, user=primary.user)
        standby._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(folder / "data"), "-R", "-X", "stream", "--no-sync"),
        )
        standby._start()
        return standby

    def _start(self) -> None:
        folder, cluster = self.folder, self
        options = " ".join(
            [
                f"-p {cluster.port}",
                f"-k {folder}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=400",
                "-c shared_buffers=64MB",
                # not UTC, so a moment read back in the session's zone shows
                "-c timezone=Asia/Kathmandu",
            ]
        )
        cluster._run(
            "pg_ctl",
            "-D",
            str(folder / "data"),
            "-l",
            str(folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def kill(self) -> None:
        """SIGKILL the cluster's postmaster (and so its backends), as a power cut would."""
        pid = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 9)
        _wait_until_gone(pid)  # else a quick restart finds its socket lock still held

    def restart(self) -> None:
        """Start the cluster again after `kill` (it recovers from its WAL)."""
        (self.folder / "data" / "postmaster.pid").unlink(missing_ok=True)
        self._start()

    def _run(self, tool: str, *args: str) -> None:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid}
        result = subprocess.run(
            [str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
            **kwargs,
        )
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}{tail}")

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this cluster (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, database: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname={database}", autocommit=True
        )

    def _unique(self, prefix: str) -> str:
        return f"{prefix}_{os.getpid()}_{next(self._names)}"

    def create_database(self, prefix: str = "db") -> str:
        """A new, empty database (about 0.3 s: for tests that need a whole one); its URL."""
        name = self._unique(prefix)
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self, prefix: str = "home", unix_socket: bool = False) -> str:
        """A new, empty schema in the homes' shared database (a few ms), as a URL whose
        connections put it first on their search_path: a home sees only its own tables.
        With `unix_socket`, the URL reaches the cluster through its socket file, as a
        process in a network namespace of its own still can."""
        if not self._homes_database:
            self._homes_database = self.create_database("homes").rsplit("/", 1)[1]
        name = self._unique(prefix)
        with self._admin(self._homes_database) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        search_path = f"options=-csearch_path%3D{name}"
        if unix_socket:
            return (
                f"postgresql+psycopg://postgres@/{self._homes_database}"
                f"?host={self.folder}&port={self.port}&{search_path}"
            )
        return f"{self.url(self._homes_database)}?{search_path}"

    def restore(self, url: str, sql: Path) -> None:
        """Run `sql` (a pg_dump's plain script) with psql in the database at `url`."""
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-f",
                str(sql),
                url.rsplit("/", 1)[1],
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def dump(self, url: str) -> str:
        """The database at `url` as pg_dump writes it (plain SQL, no owners)."""
        dbname = url.rsplit("/", 1)[1]
        result = subprocess.run(
            [
                str(self.bindir / "pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "--no-owner",
                "--no-privileges",
                dbname,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


_cluster: PostgresCluster | None = None


def cluster() -> PostgresCluster:
    """The session's cluster, started on first use (conftest stops it at the end)."""
    global _cluster
    if _cluster is None:
        _cluster = PostgresCluster.start()
    return _cluster


def stop_cluster() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


def new_database_url(unix_socket: bool = False) -> str:
    """A URL for a new home's database: "" (SQLite in the home) unless this is a
    PostgreSQL run, where it names a fresh schema (through the socket file with
    `unix_socket`: for commands run in a network namespace)."""
    if MODE == "postgresql":
        return cluster().create_schema(unix_socket=unix_socket)
    if MODE != "sqlite":
        raise ValueError(f"DRAWBRIDGE_TEST_DATABASE={MODE!r}: use one of {MODES}")
    return ""


def new_home(root: Path) -> Home:
    """`drawbridge init` in-process, on this run's kind of database (an existing home is
    loaded as it is)."""
    tiers.require("home")
    if (root / "drawbridge.toml").exists():
        return initialise_home(root)
    return initialise_home(root, database_url=new_database_url())


def init_arguments(unix_socket: bool = False) -> list[str]:
    """What to add to `drawbridge init` for this run's kind of database."""
    url = new_database_url(unix_socket)
    return ["--database-url", url] if url else []


def write_config(home: Home, text: str) -> None:
    """Replace a home's drawbridge.toml with `text`, keeping the home's database."""
    if home.server.database_url and "database_url" not in text:
        if "[server]" in text:
            text = text.replace(
                "[server]", f'[server]\ndatabase_url = "{home.server.database_url}"'
            )
        else:
            text = f'[server]\ndatabase_url = "{home.server.database_url}"\n' + text
    home.config_path.write_text(text)


def set_config(home: Home, table: str, **values: object) -> Home:
    """Set keys of one table of a home's drawbridge.toml (comments and the rest kept) and
    load the home again."""
    import tomlkit

    from drawbridge.channel.home import load_home

    document = tomlkit.parse(home.config_path.read_text("utf-8"))
    document.setdefault(table, tomlkit.table()).update(values)
    home.config_path.write_text(tomlkit.dumps(document), "utf-8")
    return load_home(home.root)


def _wait_until_gone(pid: int, seconds: float = 30) -> None:
    """Until process `pid` is gone, reaped too: PostgreSQL's start refuses while the PID in
    a socket's lock file answers a signal, and a zombie does (after `seconds`, the start
    is left to say so itself)."""
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
