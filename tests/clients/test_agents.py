"""Build agents as their own processes against a real `drawbridge serve`, building recipes a
maintainer approved, offline against the stand-in upstream (Python 3.9 and 3.12):

- a linux-64 builder token's agent builds a C extension for every configured Python; the
  packages install with py-rattler and import; the win-64 and osx-arm64 jobs wait;
- an agent killed with SIGKILL mid-build: its job is queued again once its lease ran out,
  a second agent builds it, nothing half-built was published in between;
- a setup.py that reads a file in the server's home, or opens a socket to a listener on
  127.0.0.1, fails its build under the agent's sandbox (bubblewrap), and the file's
  contents never reach the log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from builders import C_SOURCE, make_sdist
from clients import BIN, PYENV, client_env, install_from_channels, venv_pip_install
from clients import run_drawbridge
from databases import new_home
from servers import start_server
from served_state import conda_index_file

from drawbridge.agent import sandbox
from drawbridge.bridge.farm.jobs import JobBook
from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token

LEASE = 8
SECRET = "canary-5d41402abc4b2a76"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, upstream_39_312: Path):  # type: ignore[no-untyped-def]
    """A served home building for Python 3.9 and 3.12 on linux-64, win-64 and osx-arm64,
    with a short lease, mia maintaining, a linux-64 builder token, and a canary file."""
    tmp = tmp_path_factory.mktemp("farm")
    home = new_home(tmp / "home")
    config = home.config_path.read_text()
    for old, new in (
        ("upstream_conda = []", f'upstream_conda = ["{upstream_39_312.as_uri()}"]'),
        ('pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]', 'pythons = ["3.9", "3.12"]'),
        ("platforms = [", 'platforms = ["linux-64", "win-64", "osx-arm64"]\n# was: platforms = ['),
        ("upstream_pypi = ", f'upstream_pypi = "{tmp / "drop"}"\n# was: '),
        ("maintainers = []", 'maintainers = ["mia"]'),
        ("build_lease_seconds = 120", f"build_lease_seconds = {LEASE}"),
    ):
        assert old in config
        config = config.replace(old, new, 1)
    home.config_path.write_text(config)
    database = Database(home.database_url)
    Channels(home, database).create("main")
    tokens = {
        "maintainer": create_token(database, "mia", Role.maintainer),
        "builder": create_token(database, "linux-builder", Role.builder, platforms=["linux-64"]),
    }
    database.close()
    (home.root / "canary.txt").write_text(SECRET)
    server = start_server(home.root)
    try:
        yield {
            "home": home.root,
            "tmp": tmp,
            "server": server,
            **tokens,
            "upstream": upstream_39_312,
        }
    finally:
        server.stop()


def approved(farm: dict, name: str, version: str, setup: str, c_source: bool = True) -> None:
    """An sdist of `name` in the drop folder, its recipe generated and approved (which
    queues its jobs)."""
    folder = f"{name.replace('-', '_')}-{version}"
    members = {f"{folder}/setup.py": setup.encode()}
    if c_source:
        members[f"{folder}/fastadd.c"] = C_SOURCE.encode()
    make_sdist(farm["tmp"] / "drop", name, version, members=members)
    home = farm["home"]
    generated = run_drawbridge("recipe", "generate", name, home=home)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    done = run_drawbridge("recipe", "approve", name, token=farm["maintainer"], home=home)
    assert done.returncode == 0 and "build job(s) queued" in done.stdout, done.stdout + done.stderr


def c_extension(name: str, version: str) -> str:
    return (
        "from setuptools import Extension, setup\n"
        f'setup(name="{name}", version="{version}",\n'
        '      ext_modules=[Extension("fastadd", ["fastadd.c"])])\n'
    )


def agent_command(farm: dict, *args: str) -> list[str]:
    return [
        str(BIN / "drawbridge"),
        "agent",
        "--server",
        farm["server"].url,
        "--token",
        farm["builder"],
        "--platform",
        "linux-64",
        "--work",
        str(farm["tmp"] / "work"),
        *args,
    ]


def agent_once(farm: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        agent_command(farm, "--once", *args),
        capture_output=True,
        text=True,
        env=client_env(COLUMNS="250"),
        timeout=900,
    )


def jobs_of(farm: dict, recipe: str) -> list:
    database = Database(new_home(farm["home"]).database_url)
    try:
        return JobBook(database).jobs(recipe)
    finally:
        database.close()


def packages(farm: dict, subdir: str = "linux-64") -> dict[str, dict]:
    return conda_index_file(farm["home"] / "channels/main/conda" / subdir)["packages.conda"]


def test_an_agent_builds_a_c_extension_for_every_python(farm: dict):
    approved(farm, "cext-farm", "0.5", c_extension("cext-farm", "0.5"))
    for python in ("3.9", "3.12"):
        built = agent_once(farm)
        assert built.returncode == 0, built.stdout + built.stderr
        assert f"(cext-farm linux-64 python {python}): published" in built.stdout, built.stdout
    assert "no job to build" in agent_once(farm).stdout  # the rest is for other platforms

    abis = sorted(
        next(d for d in record["depends"] if d.startswith("python_abi"))
        for name, record in packages(farm).items()
        if name.startswith("cext-farm-")
    )
    assert abis == ["python_abi 3.12.* *_cp312", "python_abi 3.9.* *_cp39"]
    for python in ("3.9", "3.12"):
        prefix = farm["tmp"] / f"env-{python}"
        install_from_channels(
            [f"{farm['server'].url}/main/conda", farm["upstream"]],
            [f"python {python}.*", "cext-farm"],
            prefix,
            farm["tmp"] / "pkgs",
        )
        answer = subprocess.run(
            [str(prefix / "bin/python"), "-c", "import fastadd; print(fastadd.add(40, 2))"],
            capture_output=True,
            text=True,
            env=client_env(),
        )
        assert answer.stdout.strip() == "42", answer.stderr

    listed = " ".join(
        run_drawbridge("jobs", "list", "--recipe", "cext-farm", home=farm["home"]).stdout.split()
    )
    for platform in ("win-64", "osx-arm64"):
        for python in ("3.9", "3.12"):
            assert f"{platform} python {python} │ waiting for a builder of {platform}" in listed
    page = httpx_get(farm, "/ui/recipes/cext-farm/jobs")
    assert "waiting for a builder of osx-arm64" in page and "succeeded" in page

    # the agent published each Python's wheel repaired for pip users, never the raw one
    wheels = sorted(
        p.name for p in (farm["home"] / "channels/main/pypi/files").glob("cext_farm-*.whl")
    )
    assert [w.split("-")[2] for w in wheels] == ["cp312", "cp39"], wheels
    assert all("manylinux_2_17_x86_64" in w and "linux_x86_64.whl" not in w for w in wheels)
    python = PYENV / "3.12.1/bin/python3.12"
    if python.exists():  # the repaired wheel installs with a pyenv pip, in a fresh venv
        venv_python, installed = venv_pip_install(
            python, farm["tmp"] / "venv", "--no-index", "--find-links",
            str(farm["home"] / "channels/main/pypi/files"), "cext-farm",
        )  # fmt: skip
        assert installed.returncode == 0, installed.stdout + installed.stderr
        ran = subprocess.run(
            [str(venv_python), "-c", "import fastadd; print(fastadd.add(40, 2))"],
            capture_output=True, text=True, env=client_env(),
        )  # fmt: skip
        assert ran.stdout.strip() == "42", ran.stderr


def httpx_get(farm: dict, path: str) -> str:
    import httpx

    return httpx.get(farm["server"].url + path, timeout=30).text


def test_a_killed_agents_job_goes_back_to_the_queue_and_another_agent_builds_it(farm: dict):
    approved(farm, "cext-kill", "0.6", c_extension("cext-kill", "0.6"))
    first = subprocess.Popen(
        agent_command(farm, "--python", "3.9", "--poll", "1", "--name", "doomed"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=client_env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # building: rattler-build's log has reached the server
            (job,) = [
                j
                for j in jobs_of(farm, "cext-kill")
                if j.python == "3.9" and j.subdir == "linux-64"
            ]
            if job.state == "running" and "rattler-build" in job.log:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the agent never started building: {job}")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    assert not [n for n in packages(farm) if n.startswith("cext-kill-")]  # nothing half-built

    time.sleep(LEASE + 1)
    second = agent_once(farm, "--python", "3.9", "--name", "rescuer")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(cext-kill linux-64 python 3.9): published" in second.stdout, second.stdout
    (job,) = [j for j in jobs_of(farm, "cext-kill") if j.python == "3.9" and j.subdir == "linux-64"]
    assert (job.state, job.agent, job.attempts) == ("succeeded", "rescuer", 2)
    assert "agent doomed stopped answering (its lease ran out)" in job.log
    assert [n for n in packages(farm) if n.startswith("cext-kill-")] == [
        n for n in packages(farm) if n.startswith("cext-kill-") and "py39" in n
    ]


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[tuple] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except OSError:
                continue
            accepted.append(peer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(5)
    server.close()


#: the evil runs in the build only (rattler-build sets SRC_DIR), not when grayskull reads it
EVIL = """
import os
from setuptools import setup
if os.environ.get("SRC_DIR"):
    {action}
setup(name="{name}", version="1.0", py_modules=[])
"""


@pytest.mark.skipif(sandbox.bwrap() is None, reason="bubblewrap cannot make a sandbox here")
def test_a_malicious_setup_py_can_neither_read_the_servers_home_nor_reach_the_network(
    farm: dict, listener
):
    port, accepted = listener
    for job in jobs_of(farm, "cext-kill"):  # the other tests' jobs this agent could claim
        if job.subdir == "linux-64" and not job.ended:
            assert run_drawbridge("jobs", "cancel", str(job.id), home=farm["home"]).returncode == 0
    canary = farm["home"] / "canary.txt"
    actions = {
        "evil-read": f"print('read:', open({str(canary)!r}).read())",
        "evil-net": f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)",
    }
    for name, action in actions.items():
        approved(farm, name, "1.0", EVIL.format(action=action, name=name), c_source=False)
        ran = agent_once(farm, "--python", "3.12")
        assert f"({name} noarch): failed" in ran.stdout, ran.stdout + ran.stderr
        (job,) = jobs_of(farm, name)
        assert job.state == "failed"
        assert SECRET not in job.log and SECRET not in job.reason
    (read,) = jobs_of(farm, "evil-read")
    assert "No such file or directory" in read.log and str(canary) in read.log
    (net,) = jobs_of(farm, "evil-net")
    assert "Network is unreachable" in net.log or "Connection refused" in net.log, net.log[-3000:]
    assert accepted == []  # nothing reached the listener
    assert not [n for n in packages(farm, "noarch") if n.startswith("evil-")]
