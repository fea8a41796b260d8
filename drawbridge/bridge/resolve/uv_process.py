"""How a uv process is started: which uv, and the environment it runs in.

Apart from uv_compile.py (which builds the resolution's command line and reads its
output) because `drawbridge lock` starts its guessed uv runs before anything else is
loaded (environments/uv_run.py): this module needs neither packaging nor the targets'
wheel tags.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from drawbridge.channel.platforms import DEFAULT_MACOS

#: uv settings from the caller's environment that may stay: TLS and network, never resolution
KEPT_UV_VARIABLES = (
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
    "UV_INSECURE_HOST",
    "UV_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS",
)


def uv_environment(
    subdir: str, macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS
) -> dict[str, str]:
    """The environment of a uv run for `subdir`: no caller uv settings, and the subdir's
    macOS baseline."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("UV_") or k in KEPT_UV_VARIABLES
    }
    environment.pop("MACOSX_DEPLOYMENT_TARGET", None)
    environment["UV_NO_CONFIG"] = "1"
    if subdir in macos:
        major, minor = macos[subdir]
        environment["MACOSX_DEPLOYMENT_TARGET"] = f"{major}.{minor}"
    return environment


_UV_BINARY: list[str] = []
_UV_BINARY_LOCK = threading.Lock()


def uv_binary() -> str:
    """The uv executable of the `uv` package, looked up once.

    The lookup reads sysconfig, whose first use is not thread-safe (two threads got
    `"uv" + None`), hence the lock.
    """
    with _UV_BINARY_LOCK:
        if not _UV_BINARY:
            from uv import find_uv_bin

            _UV_BINARY.append(find_uv_bin())
        return _UV_BINARY[0]
