"""How a repacked wheel's scripts find the environment's Python, wherever it is installed.

conda packages are built in one place and installed in another, so a script cannot name
its Python's path when it is packed:

- Linux, macOS and noarch: the shebang names `PREFIX_PLACEHOLDER`, and the package's
  paths.json lists the file with that placeholder (`file_mode: text`); conda, mamba and
  rattler (pixi) write the environment's prefix in its place at install, as they do for
  conda-forge's scripts.
- Windows: rattler leaves binary files alone there and conda rewrites only some, so a
  script becomes a launcher that needs no rewriting: installer's (distlib's) `.exe`, whose
  shebang `<launcher_dir>\\..\\python.exe` names the python.exe of the prefix it sits in,
  with the script appended as a zip's `__main__.py`.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from importlib.resources import files
from typing import Literal

#: the prefix scripts' shebangs name in a package; installers replace it with the
#: environment's (text mode: its length does not matter)
PREFIX_PLACEHOLDER = "/opt/drawbridge-placeholder-prefix"
#: the interpreters a Windows launcher runs: distlib's launcher resolves `<launcher_dir>\`
#: against its own folder (`Scripts\`), so these are the prefix's
WINDOWS_PYTHONS = {
    "console": r"<launcher_dir>\..\python.exe",
    "gui": r"<launcher_dir>\..\pythonw.exe",
}
#: installer's launchers for win-64 (distlib's, built with relative-path support)
_LAUNCHERS = {"console": "t64.exe", "gui": "w64.exe"}

Section = Literal["console", "gui"]


def python_script_section(head: bytes) -> Section | None:
    """What a wheel script's first bytes ask for: `#!python` the Python (console),
    `#!pythonw` its GUI twin; None for any other script, which is copied as it is."""
    if head.startswith(b"#!pythonw"):
        return "gui"
    return "console" if head.startswith(b"#!python") else None


def windows_launcher_name(path: str) -> str:
    """`tool` or `tool.py` (or `.pyw`) as the launcher `tool.exe`, as distlib names it."""
    stem, extension = posixpath.splitext(path)
    return f"{stem if extension in ('.py', '.pyw') else path}.exe"


def windows_launcher(script: bytes, section: Section) -> bytes:
    """A win-64 launcher running `script` on the python.exe (or pythonw.exe) of the
    environment the launcher is installed in."""
    # installer ships distlib's launchers as package data (installer.scripts uses them)
    launcher = (files("installer._scripts") / _LAUNCHERS[section]).read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__main__.py", script)
    shebang = f"#!{WINDOWS_PYTHONS[section]}\n".encode()
    return launcher + shebang + archive.getvalue()
