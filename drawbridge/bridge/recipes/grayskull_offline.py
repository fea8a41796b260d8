"""grayskull with no route out: its `pypi` path on a local sdist, never touching the network.

Inside the air gap there is no internet, and a generator that reaches out either fails
(jieba: grayskull asked api.github.com for its licence) or hangs until a timeout. Read from
grayskull 3.2's source, these are every network call on the path Drawbridge uses
(`grayskull pypi <local sdist>`), each replaced here at our boundary by what grayskull itself
does when the call fails, or by local data:

- `license.discovery.get_all_licenses_from_spdx` (spdx.org): the SPDX list `packaging`
  ships, named from grayskull's own opensource.org cache;
- `license.discovery.get_opensource_license_data` (opensource.org): grayskull's cache;
- `license.discovery.search_license_api_github` (api.github.com) and `search_license_repo`
  (`git clone` of the project), asked when the sdist has no licence file: nothing; the
  reviewer is told (`compose`);
- `base.pkg_info.is_pkg_available` (api.anaconda.org, per dependency, and `cli.stdout`'s
  copy, which colours the summary): "no", so names stay PyPI's; Drawbridge maps them with
  its own table;
- `strategy.py_base.pip_install_dep` (`pip install` from PyPI of what setup.py imports):
  nothing installed; a module installed here is recorded as a build requirement, as grayskull
  does after installing it; any other is reported for the reviewer (a module is not always
  a project, and `try: import` is often optional);
- `main.get_git_current_user` (api.github.com, for the maintainer): a placeholder;
  Drawbridge writes the maintainers of drawbridge.toml.

The PyPI JSON API and sdist downloads are only used for names, not local sdists. Anything
still trying (a future grayskull, a setup.py) meets an audit hook that refuses name lookups,
internet connections and `git`/`pip` child processes, and says so on stderr with
`REFUSED_MARK`, so a caller (and a test) sees every attempt.

Run as `python -m drawbridge.bridge.recipes.grayskull_offline pypi … SDIST`: the patches
live only in that child process. `command` also runs it without proxy settings and, where
the system allows it (`unshare --net`, as root or in a user namespace), in a network
namespace of its own, which has no route anywhere: the patches make grayskull work
offline, the namespace makes sure of it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

#: printed on stderr for every network attempt refused
REFUSED_MARK = "drawbridge-offline: refused"
#: printed on stderr for each module setup.py imports that nothing here provides
UNRESOLVED_MARK = "drawbridge-offline: setup.py imports a module not installed here:"
#: what grayskull writes as the maintainer; Drawbridge replaces the whole list
NO_MAINTAINER = "drawbridge-maintainers"
_INTERNET = (socket.AF_INET, socket.AF_INET6)
_REFUSED_PROGRAMS = {"git", "pip", "pip3"}
__spec_name__ = "drawbridge.bridge.recipes.grayskull_offline"


@functools.cache
def spdx_licenses() -> list[dict[str, Any]]:
    """SPDX licence records as spdx.org's licenses.json has them, from local data: ids from
    `packaging.licenses`, names from grayskull's opensource.org cache where it has them."""
    from grayskull.license import discovery

    names = {item["spdx_id"]: item["name"] for item in discovery.read_licence_cache()}
    try:
        from packaging.licenses._spdx import LICENSES  # packaging >= 24.2
    except ImportError:
        LICENSES = {key.lower(): {"id": key, "deprecated": False} for key in names}
    return [
        {"licenseId": entry["id"], "name": names.get(entry["id"], entry["id"])}
        for entry in LICENSES.values()
        if not entry["deprecated"]
    ]


def _record_requirement(data_dist: dict[str, Any], dep_name: str, pip_dir: str) -> None:
    """In place of `pip install` of a module setup.py imports: install nothing; record it as
    a build requirement if it is installed here (grayskull records what it could install),
    else report it (`UNRESOLVED_MARK`) for the reviewer to decide."""
    name = "setuptools" if dep_name == "pkg_resources" else dep_name
    if importlib.util.find_spec(name.split(".")[0]) is None:
        print(f"{UNRESOLVED_MARK} {name}", file=sys.stderr, flush=True)
        return
    requires = data_dist.setdefault("setup_requires", [])
    if name.lower() not in requires and name.lower() != "setuptools":
        requires.append(name.lower())


def _refuse(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: no name lookups, no internet connections, no git or pip."""
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0]
        if host not in ("localhost", "127.0.0.1", "::1", None):
            print(f"{REFUSED_MARK} name lookup {host!r}", file=sys.stderr, flush=True)
            raise socket.gaierror(socket.EAI_NONAME, f"no network for grayskull ({host})")
    elif event == "socket.connect" and getattr(args[0], "family", None) in _INTERNET:
        address = args[1]
        if address[0] not in ("127.0.0.1", "::1"):
            print(f"{REFUSED_MARK} connection to {address!r}", file=sys.stderr, flush=True)
            raise ConnectionRefusedError(f"no network for grayskull ({address!r})")
    elif event == "subprocess.Popen":
        program = Path(str(args[0])).name
        argv = [str(a) for a in args[1] or ()]
        running_pip = len(argv) > 2 and argv[1:3] == ["-m", "pip"]
        if program in _REFUSED_PROGRAMS or running_pip:
            print(f"{REFUSED_MARK} child process {argv!r}", file=sys.stderr, flush=True)
            raise PermissionError(f"no network for grayskull: {' '.join(argv)}")


def seal() -> None:
    """Replace grayskull's network calls (the table above) and refuse anything else."""
    from grayskull import main
    from grayskull.base import pkg_info
    from grayskull.cli import stdout
    from grayskull.license import discovery
    from grayskull.strategy import py_base

    discovery.get_all_licenses_from_spdx = spdx_licenses
    discovery.get_opensource_license_data = discovery.read_licence_cache
    discovery.search_license_api_github = lambda *args, **kwargs: None
    discovery.search_license_repo = lambda *args, **kwargs: None
    pkg_info.is_pkg_available = stdout.is_pkg_available = lambda *args, **kwargs: False
    py_base.pip_install_dep = _record_requirement
    main.get_git_current_user = lambda: NO_MAINTAINER
    sys.addaudithook(_refuse)


def run(argv: list[str]) -> int:
    """grayskull's command line, sealed; its exit status."""
    seal()
    from grayskull.main import main

    try:
        main(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


@functools.cache
def network_namespace() -> tuple[str, ...]:
    """The `unshare` prefix that runs a command with no network here, or () if none works."""
    unshare = shutil.which("unshare")
    for prefix in ((unshare, "--net"), (unshare, "--net", "--map-root-user")) if unshare else ():
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run grayskull `args` sealed, in a network
    namespace where one can be had, with no proxy."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONNOUSERSITE"] = "1"
    return [*network_namespace(), sys.executable, "-m", __spec_name__, *args], env


def unresolved_imports(stderr: str) -> list[str]:
    """The modules setup.py imports that a sealed grayskull could not find (`UNRESOLVED_MARK`)."""
    return [
        line[len(UNRESOLVED_MARK) :].strip()
        for line in stderr.splitlines()
        if line.startswith(UNRESOLVED_MARK)
    ]


def refused_attempts(stderr: str) -> list[str]:
    """The network attempts a sealed grayskull reported on `stderr`."""
    return [line for line in stderr.splitlines() if line.startswith(REFUSED_MARK)]


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
