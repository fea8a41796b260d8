"""What `drawbridge lock` does faster since issue 22 gives what it gave before: the lock's
hashes moved as text, grayskull's name table read from its JSON copy, and the guesses of
the uv runs to start early kept as they were made."""

from __future__ import annotations

import base64
import dataclasses

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import rattler

import drawbridge.environments.lock as lock_module
from drawbridge.bridge.resolve.uv_process import uv_binary
from drawbridge.bridge.translate import names
from drawbridge.environments.lock import Lock, LockedPlatform, write_lock
from drawbridge.environments.lockfile import read_lock
from drawbridge.environments.errors import Unresolvable
from drawbridge.environments.pip_resolve import PipPackage
from drawbridge.environments.uv_run import (
    GUESSES_KEPT,
    GUESSES_NAME,
    UvRequest,
    UvRun,
    early_runs,
    guessed_runs,
    remember_runs,
)

WHEELS = [
    PipPackage("a-b", "1.0", "http://h:8080/main/files/a_b-1.0-py3-none-any.whl", "ab" * 32),
    PipPackage(
        "c",
        "2.0",
        "http://h:8080/main/files/c-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "cd" * 32,
    ),
]


def _record() -> rattler.RepoDataRecord:
    package = rattler.PackageRecord(
        "demo",
        "1.0",
        rattler.BuildString("py_0"),
        0,
        "noarch",
        noarch="python",
        depends=["python >=3.8", "pip"],
        sha256=bytes(range(32)),
        md5=bytes(range(16)),
        size=10,
        license="MIT",
    )
    url = "http://h:8080/main/conda/noarch/demo-1.0-py_0.conda"
    return rattler.RepoDataRecord(package, "demo-1.0-py_0.conda", url, "http://h:8080/main/conda")


def test_hashes_move_as_text_exactly_as_a_yaml_round_trip_moved_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two platforms, a conda package and two wheels (one on one platform only): the file is
    the one the YAML round trip (the only way before) writes, and reads back with the hashes."""
    rattler_wrote: list[str] = []
    move = lock_module.hashes_into_fields

    def keep_rattler_s_text(path: Path) -> None:
        rattler_wrote.append(path.read_text("utf-8"))
        move(path)

    monkeypatch.setattr(lock_module, "hashes_into_fields", keep_rattler_s_text)
    record = _record()
    lock = Lock(
        ["http://h:8080/main/conda"],
        [
            LockedPlatform("linux-64", [record], WHEELS),
            LockedPlatform("osx-arm64", [record], WHEELS[:1]),
        ],
    )
    path = tmp_path / "drawbridge.lock"
    write_lock(lock, path)
    written = path.read_text("utf-8")
    assert "#sha256=" in rattler_wrote[0] and "#sha256=" not in written
    assert written == lock_module._hashes_moved_as_yaml(rattler_wrote[0])
    assert [(p.name, p.url, p.sha256) for p in read_lock(path, "linux-64").pip] == [
        (p.name, p.url, p.sha256) for p in WHEELS
    ]


def test_a_line_of_another_shape_goes_through_yaml(tmp_path: Path):
    text = (
        "packages:\n- pypi: 'http://h/x%20y.whl#sha256=" + "ef" * 32 + "'\n  name: x\n"
        "  version: '1'\n"
    )
    assert lock_module._hashes_moved_as_text(text) is None
    path = tmp_path / "odd.lock"
    path.write_text(text)
    lock_module.hashes_into_fields(path)
    assert path.read_text() == lock_module._hashes_moved_as_yaml(text)
    assert "sha256: " + "ef" * 32 in path.read_text()


def test_the_name_table_is_read_from_its_json_copy(tmp_path: Path):
    """The first read parses grayskull's YAML and leaves a JSON copy; later reads use the
    copy; a damaged copy is parsed again and replaced."""
    parsed = names.grayskull_mapping(cache_dir=tmp_path)
    (copy,) = tmp_path.glob("grayskull-names-*.json")
    assert parsed["torch"] == "pytorch" and json.loads(copy.read_text()) == parsed
    copy.write_text(json.dumps({"torch": "from-the-copy"}))
    assert names.grayskull_mapping(cache_dir=tmp_path)["torch"] == "from-the-copy"
    copy.write_text("{not json")
    assert names.grayskull_mapping(cache_dir=tmp_path) == parsed
    assert json.loads(copy.read_text()) == parsed


def test_an_unwritable_cache_folder_still_gives_the_table(tmp_path: Path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert names.grayskull_mapping(cache_dir=blocked / "cache")["torch"] == "pytorch"


REQUEST = UvRequest(
    requirements=("httpx", "rich>=13"),
    platform="osx-arm64",
    python="3.11.7",
    provided=(("click", "8.1.7"), ("flask", "3.0.0")),
    indexes=("http://h:8080/main/simple/", "http://h:8080/other/simple/"),
    glibc_minor=17,
    macos=(11, 0),
)


def test_the_guesses_keep_each_request_whole_and_only_the_newest_locks(tmp_path: Path):
    remember_runs("first", [(REQUEST, ["anyio", "httpx"])], cache_dir=tmp_path)
    (stored,) = json.loads((tmp_path / GUESSES_NAME).read_text())["first"]
    assert UvRequest.from_json(stored["request"]) == REQUEST
    assert stored["projects"] == ["anyio", "httpx"]
    for number in range(GUESSES_KEPT + 5):
        remember_runs(f"key-{number}", [(REQUEST, [])], cache_dir=tmp_path)
    kept = json.loads((tmp_path / GUESSES_NAME).read_text())
    assert list(kept) == [f"key-{n}" for n in range(5, GUESSES_KEPT + 5)]


def test_a_damaged_or_missing_guess_starts_nothing(tmp_path: Path):
    assert guessed_runs("anything", "uv", None, cache_dir=tmp_path) == {}
    (tmp_path / GUESSES_NAME).write_text("{not json")
    assert guessed_runs("anything", "uv", None, cache_dir=tmp_path) == {}
    damaged = {"request": {**REQUEST.to_json(), "platform": "nowhere-64"}, "projects": []}
    (tmp_path / GUESSES_NAME).write_text(json.dumps({"key": [damaged]}))
    assert guessed_runs("key", "uv", None, cache_dir=tmp_path) == {}
    remember_runs("key", [(REQUEST, [])], cache_dir=tmp_path)  # a damaged file is replaced
    assert list(json.loads((tmp_path / GUESSES_NAME).read_text())) == ["key"]


def test_a_command_line_with_a_token_is_neither_guessed_for_nor_keyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A token on the command line would go into the guesses' key: such a lock starts no
    early run (and is not remembered); the same lock with $DRAWBRIDGE_TOKEN is keyed."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for arguments in (["lock", "e.yml", "--token", "secret"], ["lock", "--token=secret", "e.yml"]):
        assert early_runs(arguments, {}, cwd=str(tmp_path)) is None
    keyed = early_runs(["lock", "e.yml"], {"DRAWBRIDGE_TOKEN": "secret"}, cwd=str(tmp_path))
    assert keyed is not None and keyed.runs == {}  # nothing remembered yet: nothing started
    plain = early_runs(["lock", "e.yml"], {}, cwd=str(tmp_path))
    assert plain is not None and plain.key == keyed.key  # the token is not in the key


def test_a_server_url_holding_a_token_is_never_remembered(tmp_path: Path):
    """$DRAWBRIDGE_URL may be written with the conda-style `/t/<token>/` prefix or with
    user info: such a lock's guesses would write the token into the user's cache."""
    for url in ("http://h:8080/t/s3cret/main/simple/", "http://me:s3cret@h:8080/main/simple/"):
        holding = dataclasses.replace(REQUEST, indexes=(url,))
        remember_runs("key", [(holding, [])], cache_dir=tmp_path)
        assert not (tmp_path / GUESSES_NAME).exists()
    remember_runs("key", [(REQUEST, [])], cache_dir=tmp_path)
    assert "s3cret" not in (tmp_path / GUESSES_NAME).read_text()


class _NoProjects(BaseHTTPRequestHandler):
    """An index without projects: 404 to every page (uv retries a 5xx, not a 404)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_uv_runs_on_this_interpreter_and_looks_for_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A pip part for a Python the client lacks sent the lock's uv searching the machine for
    one (every `python3.X` on PATH, each pyenv shim run: ~10 s here for 3.12/3.13, and ~60 ms
    for the client's own version from a folder without a virtualenv). Nothing is built, so
    uv is given the client's interpreter: the real uv runs with interpreters on PATH that
    note being run, and none is."""
    fakes, called = tmp_path / "bin", tmp_path / "called"
    fakes.mkdir()
    for name in ("python", "python3", "python3.11", "python3.12", "python3.13"):
        fake = fakes / name
        fake.write_text(f'#!/bin/sh\necho "$0" >> {called}\nexit 1\n')
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX", "UV_PYTHON"):
        monkeypatch.delenv(variable, raising=False)
    empty = ThreadingHTTPServer(("127.0.0.1", 0), _NoProjects)
    threading.Thread(target=empty.serve_forever, daemon=True).start()
    try:
        for python in ("3.13", "3.11.7"):
            index = f"http://127.0.0.1:{empty.server_address[1]}/main/simple/"
            request = dataclasses.replace(REQUEST, python=python, indexes=(index,))
            run = UvRun(request, uv_binary())
            try:
                with pytest.raises(Unresolvable):
                    run.pins()
            finally:
                run.stop()
    finally:
        empty.shutdown()
    assert not called.exists(), called.read_text()


class _RecordingNoProjects(_NoProjects):
    """`_NoProjects`, noting each request's path and Authorization header."""

    heard: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.heard.append((self.path, self.headers.get("Authorization", "")))
        super().do_GET()


def test_the_token_reaches_uv_by_its_environment_not_its_command_line(tmp_path: Path):
    """A command line is readable by every account on the machine (`ps`), so the lock's uv
    run (on the client, and on the server for the caller) takes its indexes, token and all,
    from UV_INDEX_URL and UV_EXTRA_INDEX_URL: the real uv, run through a wrapper that writes
    down its arguments, sends the token to both indexes, and no argument holds it."""
    arguments = tmp_path / "arguments"
    wrapper = tmp_path / "uv"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {arguments}\nexec {uv_binary()} "$@"\n')
    wrapper.chmod(0o755)
    index = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingNoProjects)
    threading.Thread(target=index.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{index.server_address[1]}"
    request = dataclasses.replace(
        REQUEST, python="3.11.7", indexes=(f"{base}/main/simple/", f"{base}/other/simple/")
    )
    run = UvRun(request, str(wrapper), token="s3cret-t0ken")
    try:
        with pytest.raises(Unresolvable):
            run.pins()
    finally:
        run.stop()
        index.shutdown()
    assert "s3cret" not in arguments.read_text()
    expected = "Basic " + base64.b64encode(b"__token__:s3cret-t0ken").decode()
    channels = {path.split("/")[1] for path, sent in _RecordingNoProjects.heard if sent == expected}
    assert channels == {"main", "other"}, _RecordingNoProjects.heard
