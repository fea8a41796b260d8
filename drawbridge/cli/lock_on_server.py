"""`drawbridge lock` asked of the server: the console script's first try, standard library only.

A lock's own work takes the server ~50 ms; the full client first spends ~200 ms loading
typer, httpx and py-rattler (docs/performance.md, "lock on the server"). So the console
script reads lock's command line with argparse, sends the environment file to
`POST /api/lock` with http.client (httpx alone took 40 ms to import), and writes the lock
file the server made, atomically, with the lines the full client prints. The server runs
the same code as the full client, as the caller, against itself, and writes this
client's URL into it: the file is the same, byte for byte (server/routes/locks.py).

Anything else goes to the full client, which locks on this machine with its own messages:
a command line other than a plain lock (--help, --request, an option or value this parser
does not take; a test holds its options equal to the typer command's), a server URL with
a token or credentials in it, a proxy in the environment (the full client honours it),
a platform this module cannot name, and every answer but a lock (an older server, a
replica, an error, something missing, a busy server, no server at all). Setting
$DRAWBRIDGE_LOCAL_LOCK to 1 skips the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: set to 1 to lock on this machine without asking the server
LOCAL_VARIABLE = "DRAWBRIDGE_LOCAL_LOCK"
#: the same names as environments/defaults.py (not imported: it loads dataclasses)
SERVER_VARIABLE = "DRAWBRIDGE_URL"
TOKEN_VARIABLE = "DRAWBRIDGE_TOKEN"
DEFAULT_SERVER = "http://127.0.0.1:8080"
#: proxy settings httpx honours and http.client does not: with one, the full client locks
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
#: how long the server may take (a big solve; the full client's reads wait 60 s each)
TIMEOUT_SECONDS = 300.0
#: lock's options that take a value, by every spelling (the flags: none but --request,
#: which files requests and so is the full client's)
VALUE_OPTIONS = {
    "server": ("--server",),
    "platform": ("--platform", "-p"),
    "output": ("--output", "-o"),
    "glibc": ("--glibc",),
    "macos_intel": ("--macos-intel",),
    "macos_arm": ("--macos-arm",),
    "token": ("--token",),
}
#: (sys.platform, machine) → conda subdir, as rattler's `Subdir.current()` names them
_SUBDIRS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "arm64"): "linux-aarch64",
    ("linux", "ppc64le"): "linux-ppc64le",
    ("darwin", "x86_64"): "osx-64",
    ("darwin", "arm64"): "osx-arm64",
    ("win32", "amd64"): "win-64",
    ("win32", "arm64"): "win-arm64",
}


class _NotPlain(Exception):
    """A command line this module leaves to the full client."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit 2
        raise _NotPlain(message)


def _parser() -> _Parser:
    parser = _Parser(prog="drawbridge lock", add_help=False, allow_abbrev=False)
    parser.add_argument("environment")
    for name, spellings in VALUE_OPTIONS.items():
        parser.add_argument(
            *spellings, dest=name, action="append" if name == "platform" else "store"
        )
    return parser


def host_subdir() -> str | None:
    """This machine's conda subdir (`rattler.Subdir.current()`), None if not one of ours."""
    if sys.platform == "win32":
        machine = os.environ.get("PROCESSOR_ARCHITECTURE", "")
    else:
        machine = os.uname().machine
    return _SUBDIRS.get((sys.platform, machine.lower()))


def lock_on_server(arguments: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """Lock as `drawbridge lock ARGUMENTS` asks, on the server: 0 once the file is written,
    None when the full client should lock instead (see the module)."""
    if environ.get(LOCAL_VARIABLE) or any(
        environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES
    ):
        return None
    try:
        options = _parser().parse_args(arguments)
    except _NotPlain:
        return None
    server = (options.server or environ.get(SERVER_VARIABLE) or DEFAULT_SERVER).rstrip("/")
    token = options.token or environ.get(TOKEN_VARIABLE) or None
    platforms = options.platform or [host_subdir()]
    environment = Path(options.environment)
    if None in platforms or not _plain_url(server):
        return None
    try:
        text = environment.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    asked = {
        "environment": text,
        "file_name": environment.name or "environment.yml",
        "server": server,
        "platforms": platforms,
        **{
            key: getattr(options, key)
            for key in ("glibc", "macos_intel", "macos_arm")
            if getattr(options, key) is not None
        },
    }
    answer = _post(server, "/api/lock", asked, token)
    if answer is None:
        return None
    target = Path(options.output) if options.output else environment.parent / "drawbridge.lock"
    try:
        lines = [
            f"{p['platform']}: {p['conda']} conda and {p['pip']} pip packages"
            for p in answer["platforms"]
        ]
        _write_atomically(target, answer["lock"].encode("utf-8"))
    except (OSError, KeyError, TypeError, AttributeError):  # an answer of another shape
        return None
    print("\n".join([*lines, f"wrote {target}"]))
    return 0


def _plain_url(url: str) -> bool:
    """An http(s) URL without credentials, a query or a `/t/<token>/` prefix in it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not one)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and not parts.query
        and not parts.fragment
        and "/t/" not in parts.path + "/"
    )


def _post(server: str, path: str, body: dict[str, Any], token: str | None) -> Any:
    """The JSON answer to a POST of `body`, or None for anything but a 200 with JSON."""
    parts = urlsplit(server)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = connection_class(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", parts.path + path, json.dumps(body).encode(), headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            return None
        return json.loads(data)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


def _write_atomically(target: Path, data: bytes) -> None:
    """`data` at `target` through a new file beside it and a rename (a crash leaves the old
    file, or a `.part` file named for this process; tempfile took 3 ms to import)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.{os.getpid()}.part"
    handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
