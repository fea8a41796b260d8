"""The README as a new operator follows it: its own code blocks, top to bottom, on a fresh
home, with the stand-in upstream conda mirror connected through `drawbridge upstream add`.

The blocks are read from README.md (never copied here) and run by bash in a clean
environment: a fresh $HOME, no Drawbridge or pip variables, a throwaway venv first on
PATH for pip and uv, Drawbridge's console scripts after it. What the README says that
cannot happen here is replaced, each line by one rule below, and said:
- `make serve` starts `drawbridge serve` on a free port (and `make -n` shows that HOST and
  PORT reach it); the README's 127.0.0.1:8080 becomes that address;
- the mirror URL becomes the stand-in upstream's folder; pypi.org becomes a drop folder of
  stand-in wheels and sdists of the README's projects (py-rattler's real wheel among
  them), and the build matrix this machine's linux-64 and Python (no network here);
- `conda install` and `pixi init`/`pixi add` (not on this machine): py-rattler solves from
  the same channels;
- `skopeo copy docker://…` (no registry): a base image archive is made locally;
- `docker build` (no engine): the Dockerfile's build stage runs in a venv of a pyenv Python;
- `make test` is this suite; grayskull's block is covered by tests/clients/test_grayskull.py (its
  licence lookups would leave this machine).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tiers import TESTS
from builders import make_noarch_python_conda, make_sdist, make_wheel, wheel_from_installed
from clients import BIN, PYENV, run_build_stage
from servers import Server, start_server

REPOSITORY = TESTS.parent
README = REPOSITORY / "README.md"
MACHINE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
README_SERVER = "127.0.0.1:8080"
README_MIRROR = "https://conda-mirror.example.com/conda-forge"
#: lines that cannot run here, and why; each must still be in the README
NOT_RUN = {
    "make test": "this suite is what `make test` runs",
    "grayskull pypi": "tests/clients/test_grayskull.py runs grayskull against Drawbridge, offline",
}


@dataclass
class Block:
    heading: str
    language: str
    text: str

    def commands(self) -> list[str]:
        """The block's lines, continuation lines joined."""
        return [c for c in re.sub(r"\\\n\s*", "", self.text).splitlines() if c.strip()]


def readme_blocks() -> list[Block]:
    blocks, heading = [], ""
    for match in re.finditer(
        r"^(#+ [^\n]*)$|^```(\w+)\n(.*?)^```$", README.read_text(), re.M | re.S
    ):
        if match.group(1):
            heading = match.group(1)
        else:
            blocks.append(Block(heading, match.group(2), match.group(3)))
    return blocks


def stand_in_pypi(folder: Path, cache: Path) -> Path:
    """The README's PyPI projects as a drop folder: requests (with idna), pyyaml, docopt
    (sdist only) and py-rattler's real wheel."""
    make_wheel(folder, "requests", "2.32.3", requires=["idna>=2.5"])
    make_wheel(folder, "idna", "3.7")
    make_wheel(folder, "pyyaml", "6.0.2", module="yaml")
    make_sdist(folder, "docopt", "0.6.2")
    wheel = wheel_from_installed("py-rattler", cache)
    (folder / wheel.name).symlink_to(wheel)
    return folder


@dataclass
class Walk:
    """The operator's session: where they stand, what their shell holds, what is served."""

    work: Path
    env: dict[str, str]
    mirror: Path
    pypi: Path
    server: Server | None = None
    assignments: list[str] = field(default_factory=list)
    handled: dict[str, str] = field(default_factory=dict)
    pixi_channels: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        assert self.server is not None, "the README serves before it uses the server"
        return self.server.url.removeprefix("http://")

    def substitute(self, text: str) -> str:
        text = text.replace(README_MIRROR, str(self.mirror))
        return text.replace(README_SERVER, self.address) if self.server else text

    def bash(self, lines: list[str], heading: str) -> None:
        script = "\n".join(["set -euo pipefail", *self.assignments, *lines])
        ran = subprocess.run(
            ["bash", "-c", script],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert ran.returncode == 0, f"{heading}:\n{script}\n{ran.stdout}\n{ran.stderr}"
        self.assignments += [
            line for line in lines if re.match(r"^(export )?[A-Z_]+=", line.strip())
        ]

    def serve(self, command: str) -> None:
        dry = subprocess.run(
            ["make", "-n", "serve", "PORT=9000", "HOST=0.0.0.0"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
        )
        assert "drawbridge serve --host 0.0.0.0 --port 9000" in dry.stdout, dry.stdout
        home = self.work / "drawbridge-home"
        self.server = start_server(home)
        config = home / "drawbridge.toml"
        config.write_text(
            config.read_text()
            .replace('upstream_pypi = "https://pypi.org/simple/"', f'upstream_pypi = "{self.pypi}"')
            .replace(
                'platforms = ["linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]',
                'platforms = ["linux-64"]',
            )
            .replace(
                'pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]',
                f'pythons = ["{MACHINE_PYTHON}"]',
            )
        )
        self.handled[command] = "started drawbridge serve on a free port"

    def solve(self, command: str) -> None:
        """What conda or pixi would install, solved by py-rattler from the same channels
        (`pixi init`'s channels for `pixi add`)."""
        import rattler

        words = shlex.split(command)
        channels = [words[i + 1] for i, w in enumerate(words) if w in ("-c", "--channel")]
        if words[:2] == ["pixi", "init"]:
            self.pixi_channels = channels
            self.handled[command] = "pixi's channels noted for `pixi add`"
            return
        channels = channels or self.pixi_channels
        records = asyncio.run(
            rattler.solve(
                [rattler.Channel(c) for c in channels],
                [words[-1]],
                platforms=["linux-64", "noarch"],
            )
        )
        names = {r.name.normalized for r in records}
        assert {words[-1], "python"} <= names, (command, names)
        self.handled[command] = "solved with py-rattler: " + ", ".join(sorted(names))

    def base_image(self, command: str) -> None:
        from drawbridge.environments.oci import ImageRequest, write_image

        archive = self.work / command.split("oci-archive:")[1].split()[0]
        files = self.work / ".base-etc"
        files.mkdir()
        (files / "os-release").write_text("ID=debian-stand-in\n")
        write_image(
            ImageRequest(environment=files, prefix_in_image="/etc", platform="linux-64"), archive
        )
        self.handled[command] = f"made {archive.name} locally (no registry here)"

    def docker_build(self, command: str) -> None:
        context = self.work / shlex.split(command)[-1]
        builder = next((v for v in ("3.12.1", "3.13.0", "3.10.13") if (PYENV / v).is_dir()), None)
        if builder is None:
            self.handled[command] = "not run: no pyenv Python 3.10+ to stand in for the builder"
            return
        venv = self.work.parent / "builder"
        subprocess.run(
            [str(PYENV / builder / "bin" / "python"), "-m", "venv", str(venv)], check=True
        )
        stage = (context / "Dockerfile").read_text().split("\nFROM ${BASE_IMAGE}\n")[0]
        root = self.work.parent / "container"
        run_build_stage(stage, context, root, venv / "bin" / "python")
        imported = subprocess.run(
            [str(root / "opt/env/bin/python"), "-c", "import yaml, requests"],
            capture_output=True,
            text=True,
        )
        assert imported.returncode == 0, imported.stderr
        self.handled[command] = f"build stage run in a Python {builder} venv"


#: the lines the walk does itself, first match wins
SPECIAL = [
    (re.compile(r"^make serve\b"), Walk.serve),
    (re.compile(r"^(conda install|pixi init|pixi add) "), Walk.solve),
    (re.compile(r"^skopeo copy docker://"), Walk.base_image),
    (re.compile(r"^docker build "), Walk.docker_build),
]


def test_the_readme_works_as_written_top_to_bottom(tmp_path: Path, upstream_channel: Path):
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    make_wheel(work / "dist", "mypkg", "1.0")
    make_noarch_python_conda(work, "mypkg", "1.0", "mypkg", build="0")
    user = tmp_path / "user-venv"
    subprocess.run([sys.executable, "-m", "venv", str(user)], check=True)
    env = {
        "PATH": f"{user / 'bin'}:{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "operator-home"),
        "USER": "operator",
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": str(user),
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_NO_CONFIG": "1",
        "UV_NO_CACHE": "1",
    }
    walk = Walk(work, env, upstream_channel, stand_in_pypi(tmp_path / "pypi", tmp_path / "whl"))
    skipped: dict[str, str] = {}
    try:
        for block in readme_blocks():
            if block.language == "yaml" and block.text.startswith("# environment.yml"):
                text = block.text.replace("python 3.12.*", f"python {MACHINE_PYTHON}.*")
                (work / "environment.yml").write_text(text)
                continue
            if block.language != "bash":
                continue
            lines = []
            for command in block.commands():
                plain = command.strip()
                if plain.startswith("source .venv/bin/activate"):
                    continue  # the venv's scripts are on PATH already
                reason = next(
                    (why for start, why in NOT_RUN.items() if plain.startswith(start)), None
                )
                if reason:
                    skipped[plain] = reason
                    continue
                special = next((do for pattern, do in SPECIAL if pattern.match(plain)), None)
                if special:
                    if lines:
                        walk.bash(lines, block.heading)
                        lines = []
                    special(walk, walk.substitute(plain))
                else:
                    lines.append(walk.substitute(command))
            if lines:
                walk.bash(lines, block.heading)
        assert sorted(NOT_RUN) == sorted(
            next(s for s in NOT_RUN if c.startswith(s)) for c in skipped
        ), "every line that cannot run here is still in the README"
        # conda (main, then company/dev and its bases), pixi init and pixi add
        assert len(walk.handled) == len(SPECIAL) + 3, walk.handled
        home = work / "drawbridge-home"
        assert "conda-forge" in (home / "drawbridge.toml").read_text()
        assert (work / "drawbridge.lock").is_file() and (work / "prod.tar").is_file()
        assert (work / "env/bin/python").exists() and (work / "image/Dockerfile").is_file()
        imported = subprocess.run(
            [str(work / "env/bin/python"), "-c", "import yaml, requests; print(yaml.VALUE)"],
            capture_output=True,
            text=True,
        )
        assert imported.stdout.strip() == "6.0.2", imported.stderr
    finally:
        if walk.server is not None:
            walk.server.stop()


@pytest.mark.parametrize("start", sorted(NOT_RUN))
def test_what_the_walk_does_not_run_is_in_the_readme(start: str):
    assert any(c.strip().startswith(start) for b in readme_blocks() for c in b.commands())
