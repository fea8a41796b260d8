"""One `uv pip compile` of a pip: section, and the runs the last lock made, started early.

A run depends on nothing but its `UvRequest` (the requirements, the target, what the conda
part installs, the indexes), the token and what the indexes hold: equal requests with
the same token give equal pins. The request is known only after the channel list and
the conda solve, so `drawbridge lock` used to start uv after all of its own start-up.
Now the console script starts the runs the last lock of the same command line made
(`early_runs`: the same arguments, folder and $DRAWBRIDGE_URL; kept in the user's cache)
before typer, rattler or httpx are imported, and `PipResolver` takes a run only if the
request it computes and the token are the same, else stops it and starts its own
(docs/performance.md, issue 22). The command line is a key here, never parsed.

Light on purpose: this module is imported before the command's options are read, and
starts uv without packaging, httpx, rattler or typer loaded (bridge/resolve/uv_process.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from drawbridge.bridge.resolve.uv_process import uv_binary, uv_environment
from drawbridge.channel.locations import user_cache_dir
from drawbridge.environments.auth import url_with_token
from drawbridge.environments.defaults import SERVER_VARIABLE, TOKEN_VARIABLE
from drawbridge.environments.errors import Unresolvable

#: conda subdir → uv's --python-platform ({glibc} is the manylinux baseline's minor)
UV_PLATFORMS = {
    "linux-64": "x86_64-manylinux_2_{glibc}",
    "linux-aarch64": "aarch64-manylinux_2_{glibc}",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
}
#: the file of guesses in the user's cache, and how many locks it remembers
GUESSES_NAME = "lock-uv-guesses.json"
GUESSES_KEPT = 32


@dataclass(frozen=True)
class UvRequest:
    """Everything a pip section's uv run is made from, but the token (which changes no pin)."""

    requirements: tuple[str, ...]
    platform: str
    python: str
    #: what the conda part installs, PyPI project → version, sorted: constraints, not emitted
    provided: tuple[tuple[str, str], ...]
    #: the simple indexes, the first uv's index URL, the others its extra index URLs
    indexes: tuple[str, ...]
    glibc_minor: int
    #: the platform's macOS baseline (MACOSX_DEPLOYMENT_TARGET), None off macOS
    macos: tuple[int, int] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "requirements": list(self.requirements),
            "platform": self.platform,
            "python": self.python,
            "provided": [list(pair) for pair in self.provided],
            "indexes": list(self.indexes),
            "glibc_minor": self.glibc_minor,
            "macos": list(self.macos) if self.macos else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UvRequest:
        """The request `to_json` wrote; KeyError, TypeError or ValueError if it is not one."""
        macos = data["macos"]
        request = cls(
            requirements=tuple(str(r) for r in data["requirements"]),
            platform=str(data["platform"]),
            python=str(data["python"]),
            provided=tuple((str(name), str(version)) for name, version in data["provided"]),
            indexes=tuple(str(url) for url in data["indexes"]),
            glibc_minor=int(data["glibc_minor"]),
            macos=(int(macos[0]), int(macos[1])) if macos else None,
        )
        if request.platform not in UV_PLATFORMS or not request.indexes:
            raise ValueError(f"not a uv request: {data!r}")
        return request

    def arguments(self) -> list[str]:
        """uv's arguments after `pip compile REQUIREMENTS`, but for --constraints; the
        indexes go in `environment`, where a token in them stays out of `ps`."""
        arguments = [
            "--quiet",
            "--no-config",
            "--no-header",
            "--no-annotate",
            "--no-strip-extras",
            "--only-binary",
            ":all:",
            "--python-version",
            self.python,
            "--python-platform",
            UV_PLATFORMS[self.platform].format(glibc=self.glibc_minor),
            # any interpreter will do (nothing is built): without one, uv looks for a Python
            # X.Y on the machine, through every pyenv shim on PATH (~10 s for a Python the
            # client lacks, ~60 ms for its own), as the bridge's runs already avoid
            "--python",
            sys.executable,
        ]
        for name, _version in self.provided:
            arguments += ["--no-emit-package", name]
        return arguments

    def environment(self, token: str | None = None, cache: Path | None = None) -> dict[str, str]:
        """uv with no user configuration or network beyond the given indexes, and the
        platform's macOS baseline (as the bridge's uv runs have); no cache but `cache`, a
        folder of the caller's own (the server's locks: pages revalidated, `no-cache`).

        The indexes, with `token` in them, are uv's `UV_INDEX_URL` (the first) and
        `UV_EXTRA_INDEX_URL` (the others), the variables of `--index-url` and
        `--extra-index-url`: a command line is readable by every account on the machine
        (`ps`), a process's environment only by its own.
        """
        macos = {self.platform: self.macos} if self.macos else {}
        env = {
            k: v
            for k, v in uv_environment(self.platform, macos).items()
            if not k.startswith("PIP_")
        }
        env.update(UV_PYTHON_DOWNLOADS="never", UV_INDEX_URL=url_with_token(self.indexes[0], token))
        if self.indexes[1:]:
            extras = (url_with_token(url, token) for url in self.indexes[1:])
            env.update(UV_EXTRA_INDEX_URL=" ".join(extras))
        if cache is None:
            env.update(UV_NO_CACHE="1")
        else:
            env.update(UV_CACHE_DIR=str(cache))
        return env


class UvRun:
    """A started `uv pip compile` of one request, in a scratch folder of its own."""

    def __init__(
        self,
        request: UvRequest,
        uv: str,
        token: str | None = None,
        projects: Sequence[str] = (),
        cache: Path | None = None,
    ) -> None:
        self.request = request
        self.token = token
        #: the projects the last run of this request pinned (their pages can be read meanwhile)
        self.projects = tuple(projects)
        self._scratch = tempfile.TemporaryDirectory(prefix="drawbridge-lock-")
        scratch = Path(self._scratch.name)
        wanted = scratch / "requirements.in"
        wanted.write_text("\n".join(request.requirements) + "\n", "utf-8")
        constraints = scratch / "constraints.txt"
        constraints.write_text(
            "".join(f"{name}=={version}\n" for name, version in request.provided), "utf-8"
        )
        self._process = subprocess.Popen(
            [uv, "pip", "compile", str(wanted), *request.arguments()]
            + ["--constraints", str(constraints)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=scratch,
            env=request.environment(token, cache),
        )

    def pins(self) -> list[tuple[str, str]]:
        """The sorted (project, version) pins, once uv is done; Unresolvable with uv's reason."""
        from packaging.utils import canonicalize_name  # loaded by then; not before uv starts

        stdout, stderr = self._process.communicate()
        if self._process.returncode != 0:
            message = stderr.strip().replace(self.token, "****") if self.token else stderr.strip()
            raise Unresolvable(
                [], f"{self.request.platform}: the pip: section cannot be resolved:\n{message}"
            )
        pins = []
        for line in stdout.splitlines():
            line = line.split("#")[0].strip()
            if line and "==" in line:
                pinned, version = line.split("==", 1)
                pins.append((canonicalize_name(pinned.split("[")[0]), version.strip()))
        return sorted(pins)

    def stop(self) -> None:
        """End uv if it still runs, and remove the scratch folder (again: nothing happens)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()
        self._scratch.cleanup()


@dataclass
class GuessedRuns:
    """The runs started for one `drawbridge lock` command line, by platform, and its key."""

    key: str
    runs: dict[str, UvRun] = field(default_factory=dict)

    def stop(self) -> None:
        for run in self.runs.values():
            run.stop()


def early_runs(
    arguments: Sequence[str], environ: Mapping[str, str], cwd: str | None = None
) -> GuessedRuns | None:
    """The runs the last lock of this command line made (`arguments` after `drawbridge`,
    run in `cwd` with `environ`), started again with $DRAWBRIDGE_TOKEN's token. None for
    a command line that may hold a token itself (`--token`): it is neither guessed for nor
    remembered, so no token goes into the key, and $DRAWBRIDGE_TOKEN is the way to pass
    one to a lock run in loops."""
    if any(argument.startswith("--token") for argument in arguments):
        return None
    key = hashlib.sha256(
        "\0".join([cwd or os.getcwd(), environ.get(SERVER_VARIABLE, ""), *arguments]).encode()
    ).hexdigest()[:32]
    return GuessedRuns(key, guessed_runs(key, uv_binary(), environ.get(TOKEN_VARIABLE) or None))


def guessed_runs(
    key: str, uv: str, token: str | None, cache_dir: Path | None = None
) -> dict[str, UvRun]:
    """The runs the last lock under `key` made, started again (platform → run); none if
    there is no guess, or none that can be read."""
    try:
        guesses = _read_guesses(cache_dir)
        runs = [
            (UvRequest.from_json(run["request"]), [str(p) for p in run["projects"]])
            for run in guesses.get(key) or []
        ]
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return {}
    return {request.platform: UvRun(request, uv, token, projects) for request, projects in runs}


def remember_runs(
    key: str,
    runs: Iterable[tuple[UvRequest, Sequence[str]]],
    cache_dir: Path | None = None,
) -> None:
    """Keep `runs` (each request with the projects it pinned) as the guess for the next lock
    under `key`; the newest GUESSES_KEPT locks are kept, and a cache that cannot be read or
    written is not used."""
    runs = list(runs)
    if any(_holds_a_secret(url) for request, _ in runs for url in request.indexes):
        return  # a token in a server URL (`/t/<token>/`, user:token@) never goes to a file
    path = (cache_dir or user_cache_dir()) / GUESSES_NAME
    try:
        guesses = _read_guesses(cache_dir)
    except (OSError, ValueError):
        guesses = {}
    guesses.pop(key, None)
    guesses[key] = [
        {"request": request.to_json(), "projects": list(projects)} for request, projects in runs
    ]
    kept = dict(list(guesses.items())[-GUESSES_KEPT:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_text(json.dumps(kept), "utf-8")
        os.replace(partial, path)
    except OSError:
        pass


def _holds_a_secret(url: str) -> bool:
    """Whether an index URL carries a credential: a `/t/<token>/` prefix or user info."""
    parts = urlsplit(url)
    return "@" in parts.netloc or "/t/" in parts.path


def _read_guesses(cache_dir: Path | None) -> dict[str, Any]:
    guesses = json.loads(((cache_dir or user_cache_dir()) / GUESSES_NAME).read_bytes())
    if not isinstance(guesses, dict):
        raise ValueError("not a mapping of guesses")
    return guesses
