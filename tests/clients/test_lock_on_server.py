"""`drawbridge lock` made by the server (cli/lock_on_server.py, server/routes/locks.py):
the very file the client makes itself, with the same lines, and the client's own lock,
messages and status whenever the server cannot make it."""

from __future__ import annotations

import concurrent.futures
import functools
import http.server
import ipaddress
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from builders import make_wheel
from clients import client_env
from servers import Server, static_http_server
import test_environments
from test_environments import CP, ENVIRONMENT, MACHINE_PYTHON, entry_probe, write_environment

from drawbridge.cli.lock_on_server import LOCAL_VARIABLE
from drawbridge.environments.lockfile import read_lock
from drawbridge.server.routes.locks import UV_CACHE_NAME

#: test_environments' server (a module's own: one per module that uses it)
env_server = test_environments.env_server

#: `drawbridge lock`, printing at its exit which of the full client's modules it loaded
LOADED_PROBE = entry_probe(
    before="",
    at_exit="""
heavy = ("typer", "rattler", "httpx", "packaging", "ruamel.yaml")
print(sorted(m for m in heavy if m in sys.modules), flush=True)
""",
)
OTHER_PLATFORMS = (
    "channels: [main, conda-forge, other-platforms]\ndependencies:\n  - python "
    f"{MACHINE_PYTHON}.*\n  - demo-conda\n  - pip:\n    - platform-pick\n"
)
MAC = OTHER_PLATFORMS + "    - new-mac\n"


def _lock(
    server: Server | str, environment: Path, *args: str, local: bool = False, **env: str
) -> tuple[subprocess.CompletedProcess, str]:
    """`drawbridge lock --server URL ENVIRONMENT ARGS` in its own process (locally with
    `local`), URL the server's or the one given: the process, and the full client's
    modules it loaded."""
    variables = client_env(**env, **({LOCAL_VARIABLE: "1"} if local else {}))
    url = server if isinstance(server, str) else server.url
    done = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, "lock", "--server", url, str(environment)]
        + list(args),
        capture_output=True,
        text=True,
        env=variables,
        cwd=environment.parent,
        timeout=300,
    )
    *said, loaded = done.stdout.splitlines() or [""]
    return subprocess.CompletedProcess(
        done.args, done.returncode, "\n".join(said), done.stderr
    ), loaded


@pytest.mark.parametrize(
    "text, args",
    [
        (ENVIRONMENT, ()),
        (OTHER_PLATFORMS, ("-p", "linux-64", "-p", "win-64", "-p", "osx-arm64")),
        (MAC, ("--platform=osx-arm64", "--macos-arm", "12.0", "--glibc=2.28")),
        (ENVIRONMENT.replace("[main, conda-forge]", "[{url}/main/conda, conda-forge]"), ()),
    ],
    ids=["default", "three-platforms", "baselines", "channel-by-url"],
)
@pytest.mark.parametrize("named", [False, True], ids=["by-address", "by-name"])
def test_the_server_s_lock_is_the_file_the_client_writes(
    env_server: Server, tmp_path: Path, text: str, args: tuple[str, ...], named: bool
):
    """By the address the server listens on, and by a name (the machine's, which here
    resolves to loopback): the server asks itself at its own address and writes the
    client's URL into the lock."""
    url = env_server.url.replace("127.0.0.1", _host_name()) if named else env_server.url
    text = text.replace("{url}", url)
    on_server = write_environment(tmp_path / "server", text)
    here = write_environment(tmp_path / "here", text)
    served, loaded = _lock(url, on_server, *args, "-o", "out/drawbridge.lock")
    assert served.returncode == 0, served.stdout + served.stderr
    assert loaded == "[]", "the server locked: none of the full client's modules loaded"
    assert f"{url}/main/" in (tmp_path / "server/out/drawbridge.lock").read_text()
    made, loaded_here = _lock(url, here, *args, "-o", "out/drawbridge.lock", local=True)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "rattler" in loaded_here
    written = (tmp_path / "server/out/drawbridge.lock").read_bytes()
    assert written == (tmp_path / "here/out/drawbridge.lock").read_bytes()
    assert served.stdout.replace("/server/", "/here/") == made.stdout
    assert served.stdout.endswith("wrote out/drawbridge.lock")
    assert sorted(p.name for p in (tmp_path / "server/out").iterdir()) == ["drawbridge.lock"]
    assert (env_server.home.root / "cache" / UV_CACHE_NAME).is_dir()  # the server's uv ran


def test_what_the_server_cannot_lock_the_client_locks_with_its_own_messages(
    env_server: Server, tmp_path: Path
):
    """Something missing, a bad option value, an environment file that is not valid: the
    server answers no lock, and the client says what it says when it locks alone (and
    leaves the lock file there as it was)."""
    cases = [
        (ENVIRONMENT + "    - no-such-pip\n", (), 1),
        (ENVIRONMENT, ("--glibc", "2.5"), 2),
        (ENVIRONMENT, ("-p", "nowhere-64"), 1),
        ("dependencies: [python\n", (), 1),
    ]
    for number, (text, args, status) in enumerate(cases):
        outcomes = []
        for local in (False, True):
            folder = tmp_path / f"{number}-{local}"
            environment = write_environment(folder, text)
            (folder / "drawbridge.lock").write_text("the previous lock\n")
            done, loaded = _lock(env_server, environment, *args, local=local)
            assert done.returncode == status, (args, done.stdout, done.stderr)
            assert "rattler" in loaded or status == 2  # typer refuses before rattler loads
            assert (folder / "drawbridge.lock").read_text() == "the previous lock\n"
            outcomes.append(done.stderr.replace(str(folder), "FOLDER"))
        assert outcomes[0] == outcomes[1]


def test_a_proxy_in_the_environment_leaves_the_lock_to_the_client(
    env_server: Server, tmp_path: Path
):
    """http.client does not read proxy variables; httpx does (here: no proxy for the
    server's address), so with one set the full client locks."""
    environment = write_environment(tmp_path, ENVIRONMENT)
    done, loaded = _lock(
        env_server, environment, http_proxy="http://127.0.0.1:9", no_proxy="127.0.0.1"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rattler" in loaded and (tmp_path / "drawbridge.lock").is_file()


def test_the_server_asks_only_itself(env_server: Server, tmp_path: Path):
    """The URL in the request must be the one it came to (409: the client locks itself),
    and a forged Host header only changes the text of the caller's own lock: the server
    asks itself, never the host named (here another HTTP server, which hears nothing)."""
    body = {
        "environment": ENVIRONMENT,
        "server": "http://169.254.169.254",
        "platforms": ["linux-64"],
    }
    answer = httpx.post(f"{env_server.url}/api/lock", json=body, timeout=60)
    assert answer.status_code == 409 and "not http://169.254.169.254" in answer.text
    with static_http_server(tmp_path) as elsewhere:
        heard: list[str] = []
        elsewhere.RequestHandlerClass = functools.partial(_Overheard, heard)  # type: ignore[assignment]
        host = f"127.0.0.1:{elsewhere.server_address[1]}"
        body["server"] = f"http://{host}"  # the URL a forged Host header makes its own
        forged = httpx.post(
            f"{env_server.url}/api/lock", json=body, headers={"Host": host}, timeout=60
        )
        assert forged.status_code == 200, forged.text
        assert f"http://{host}/main/" in forged.json()["lock"]
        assert heard == []
    body["server"] = env_server.url
    answer = httpx.post(f"{env_server.url}/api/lock", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert f"{env_server.url}/main/" in answer.json()["lock"]
    refused = httpx.post(
        f"{env_server.url}/api/lock",
        json=body,
        headers={"Authorization": "Bearer not-a-token"},
        timeout=60,
    )
    assert refused.status_code == 401


class _Overheard(http.server.BaseHTTPRequestHandler):
    """Notes every request line it hears in `heard`, and answers 404."""

    def __init__(self, heard: list[str], *args: Any) -> None:
        self.heard = heard
        super().__init__(*args)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.heard.append(self.requestline)
        self.send_error(404)

    do_HEAD = do_POST = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _host_name() -> str:
    """This machine's name, if it resolves to loopback (else the test cannot use it)."""
    name = socket.gethostname()
    try:
        if ipaddress.ip_address(socket.gethostbyname(name)).is_loopback:
            return name
    except (OSError, ValueError):
        pass
    pytest.skip(f"this machine's name {name!r} does not resolve to loopback")


def test_many_locks_at_once_all_end_with_the_same_file(env_server: Server, tmp_path: Path):
    """More locks than the server runs at once (those beyond are locked by their clients):
    every one succeeds, with the same file."""
    text = MAC
    folders = [tmp_path / str(n) for n in range(10)]

    def one(folder: Path) -> bytes:
        done, _loaded = _lock(env_server, write_environment(folder, text), "-p", "osx-arm64")
        assert done.returncode == 0, done.stdout + done.stderr
        return (folder / "drawbridge.lock").read_bytes()

    with concurrent.futures.ThreadPoolExecutor(len(folders)) as pool:
        written = list(pool.map(one, folders))
    assert len(set(written)) == 1
    picked = read_lock(folders[0] / "drawbridge.lock", "osx-arm64").pip
    assert f"new_mac-1.0-{CP}-{CP}-macosx_11_0_arm64.whl" in {
        p.url.rsplit("/", 1)[-1] for p in picked
    }


def _lock_request(listening: socket.socket) -> socket.socket:
    """The connection that sent `POST /api/lock` to `listening`: any other connection to the
    port (another test's process may try a port the kernel hands out again) is closed, and
    the next one taken."""
    while True:
        connection, _address = listening.accept()
        connection.settimeout(30)
        heard = b""
        try:
            while b"\r\n" not in heard:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                heard += chunk
        except TimeoutError:
            pass
        if heard.startswith(b"POST /api/lock "):
            return connection
        connection.close()


def test_ctrl_c_while_the_server_locks_ends_as_click_ends_a_command(tmp_path: Path):
    """A server that takes the request and says nothing; Ctrl-C: "Aborted!", status 1, no
    traceback, nothing written."""
    environment = write_environment(tmp_path, ENVIRONMENT)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        waiting = subprocess.Popen(
            [sys.executable, "-c", LOADED_PROBE, "lock", "--server", url, str(environment)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=client_env(),
            # as from a terminal: a shell without job control starts its background commands
            # with SIGINT ignored (POSIX), and a Python started so never gets Ctrl-C (how this
            # test once hung in a CI run started with `&`)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        connection = _lock_request(silent)  # the request came: the client now waits
        with connection:
            waiting.send_signal(signal.SIGINT)
            stdout, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 1 and stderr.strip() == "Aborted!", (stdout, stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["environment.yml"]


def test_the_same_lock_after_a_publish_has_what_was_published(env_server: Server, tmp_path: Path):
    """The server starts the uv run of the last identical request as the request comes:
    a run started then sees the index as it is then, and a lock after a publish pins the
    new version (the same file the client makes itself)."""
    environment = write_environment(tmp_path / "project", ENVIRONMENT)

    def helper_version(local: bool = False) -> str:
        done, loaded = _lock(env_server, environment, local=local)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (loaded == "[]") is not local
        (helper,) = [
            p
            for p in read_lock(environment.parent / "drawbridge.lock", "linux-64").pip
            if p.name == "pip-helper"
        ]
        return helper.version

    assert helper_version() == helper_version() == "1.5"
    env_server.publish(make_wheel(tmp_path / "wheels", "pip-helper", "1.6"))
    assert helper_version() == "1.6"
    served = (environment.parent / "drawbridge.lock").read_bytes()
    assert helper_version(local=True) == "1.6"
    assert (environment.parent / "drawbridge.lock").read_bytes() == served
