"""Build real distributions for tests: wheels, sdists and conda packages, good and bad.

The tests' shared helpers are this module and the ones beside it, one idea each (tests import
them, never conftest.py or another test module): `builders` makes distributions; `clients`
holds what real clients need (the venv's scripts, pyenv's Pythons, a clean environment,
rattler); `servers` serves a home, as a real process or in-process; `upstream` builds the
stand-in upstream conda channel; `relay` is a reverse proxy for client tests;
`conda_archive` reads .conda files. One module for all of them would pass 400 lines.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import time
import struct
import zipfile
from pathlib import Path


def escaped_name(name: str) -> str:
    """The name as wheel and sdist filenames spell it (normalised, with underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def metadata_text(
    name: str,
    version: str,
    requires: list[str] = (),
    requires_python: str | None = None,
    summary: str | None = None,
    license: str = "MIT",
) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary if summary is not None else f'{name}, a Drawbridge test project'}",
        "Home-page: https://example.invalid/" + name,
        f"License: {license}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\n" + f"{name} does nothing useful.\n"


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    requires: list[str] = (),
    requires_python: str | None = None,
    module: str | None = None,
    metadata_name: str | None = None,
    extra_entries: dict[str, bytes] | None = None,
    symlinks: dict[str, str] | None = None,
    entry_points: dict[str, dict[str, str]] | None = None,
    license_text: str | None = None,
    summary: str | None = None,
    scripts: dict[str, bytes] | None = None,
    license: str = "MIT",
) -> Path:
    """A wheel installing module `module` (default: the name with underscores) with VALUE.

    `entry_points` maps a section (console_scripts, gui_scripts) to {name: "module:attr"};
    the module gets a `main()` that prints "<name> <version> ok". `scripts` are files of
    the wheel's `.data/scripts/` by name (a `#!python` first line asks for the installing
    environment's Python), stored executable as setuptools stores them on Linux.
    """
    dist = escaped_name(name)
    module = module or dist
    dist_info = f"{dist}-{version}.dist-info"
    init = f"VALUE = {version!r}\n\n\ndef main():\n    print({f'{name} {version} ok'!r})\n"
    files: dict[str, bytes] = {
        f"{module}/__init__.py": init.encode(),
        f"{dist_info}/METADATA": metadata_text(
            metadata_name or name, version, list(requires), requires_python, summary, license
        ).encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: drawbridge-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    if entry_points:
        text = "".join(
            f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
            for section, items in entry_points.items()
        )
        files[f"{dist_info}/entry_points.txt"] = text.encode()
    if license_text:
        files[f"{dist_info}/licenses/LICENSE"] = license_text.encode()
    executable = {f"{dist}-{version}.data/scripts/{script}" for script in scripts or {}}
    for script, data in (scripts or {}).items():
        files[f"{dist}-{version}.data/scripts/{script}"] = data
    files.update(extra_entries or {})
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = folder / f"{dist}-{version}-{tag}.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in files.items():
            if entry in executable:
                info = zipfile.ZipInfo(entry)
                info.external_attr = 0o100755 << 16
                zf.writestr(info, data, zipfile.ZIP_DEFLATED)
            else:
                zf.writestr(entry, data)
        for entry, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(entry)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def make_sdist(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: list[str] = (),
    requires_python: str | None = None,
    metadata_name: str | None = None,
    members: dict[str, bytes] | None = None,
    zipped: bool = False,
) -> Path:
    """An sdist with PKG-INFO, a pyproject.toml (setuptools) and one module: a .tar.gz, or
    with `zipped` a .zip (as old setuptools made on Windows)."""
    dist = escaped_name(name)
    top = f"{dist}-{version}"
    requirement_list = ", ".join(json.dumps(r) for r in requires)
    files = {
        f"{top}/PKG-INFO": metadata_text(
            metadata_name or name, version, list(requires), requires_python
        ).encode(),
        f"{top}/pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            f'description = "{name}, a Drawbridge test project"\n'
            f'dependencies = [{requirement_list}]\nlicense = {{text = "MIT"}}\n'
        ).encode(),
        f"{top}/{dist}/__init__.py": f"VALUE = {version!r}\n".encode(),
    }
    files.update(members or {})
    folder.mkdir(parents=True, exist_ok=True)
    if zipped:
        path = folder / f"{dist}-{version}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for entry, data in files.items():
                zf.writestr(entry, data)
        return path
    path = folder / f"{dist}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for entry, data in files.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mtime = len(data), int(time.time())
            tf.addfile(info, io.BytesIO(data))
    return path


def make_conda_tar_bz2(
    folder: Path,
    name: str,
    version: str,
    build: str = "0",
    subdir: str = "noarch",
    *,
    index: dict | None = None,
    include_index: bool = True,
    members: dict[str, bytes] | None = None,
    depends: list[str] = (),
) -> Path:
    """A small .tar.bz2 conda package (hand-written; for indexing and bad-input tests)."""
    index_json = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "subdir": subdir,
        "depends": list(depends),
        "license": "MIT",
    }
    if subdir != "noarch":
        index_json["arch"], index_json["platform"] = "x86_64", subdir.split("-")[0]
    index_json.update(index or {})
    files = {f"share/{name}/README": f"{name} {version}\n".encode()}
    files.update(members or {})
    paths = {
        "paths": [
            {
                "_path": p,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(d).hexdigest(),
                "size_in_bytes": len(d),
            }
            for p, d in files.items()
        ],
        "paths_version": 1,
    }
    info_files = {"info/paths.json": json.dumps(paths).encode()}
    if include_index:
        info_files["info/index.json"] = json.dumps(index_json).encode()
    path = folder / f"{name}-{version}-{build}.tar.bz2"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:bz2", compresslevel=1) as tf:
        for entry, data in {**info_files, **files}.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mtime = len(data), int(time.time())
            tf.addfile(info, io.BytesIO(data))
    return path


def make_noarch_python_conda(
    folder: Path, name: str, version: str, module: str, build: str = "pyh4616a5c_0"
) -> Path:
    """A real `noarch: python` .conda (rattler-build's assembler) importing as `module`."""
    import rattler_build

    staging = folder / f".staging-{name}-{version}"
    (staging / "site-packages" / module).mkdir(parents=True, exist_ok=True)
    (staging / "site-packages" / module / "__init__.py").write_text(f"VALUE = {version!r}\n")
    output = rattler_build.assemble_package(
        name=name,
        version=version,
        target_platform="noarch",
        build_string=build,
        output_dir=folder,
        files_dir=staging,
        noarch="python",
        depends=["python >=3.8"],
        summary=f"{name}, a Drawbridge test package",
        license="MIT",
        compression_level=1,
    )
    return Path(output.path)


def make_noarch_python_tar_bz2(
    folder: Path, name: str, version: str, *, python: str = ">=3.8", depends: list[str] = ()
) -> Path:
    """A hand-made `noarch: python` package claiming the Pythons `python` admits."""
    return make_conda_tar_bz2(
        folder / "noarch",
        name,
        version,
        "pyh_0",
        "noarch",
        index={"noarch": "python"},
        depends=[f"python {python}", *depends],
    )


def make_target_tar_bz2(
    folder: Path,
    name: str,
    version: str,
    python: str,
    *,
    subdir: str = "linux-64",
    depends: list[str] = (),
) -> Path:
    """A hand-made per-target package pinned to one CPython, as Drawbridge's binary ones are."""
    major, minor = (int(part) for part in python.split("."))
    tag = f"cp{major}{minor}" + ("mu" if major == 2 else "")
    pins = [
        f"python >={major}.{minor},<{major}.{minor + 1}.0a0",
        f"python_abi {major}.{minor}.* *_{tag}",
    ]
    return make_conda_tar_bz2(
        folder / subdir, name, version, f"py{major}{minor}_0", subdir, depends=[*pins, *depends]
    )


#: files for `make_wheel(scripts=...)`: a `#!python` script that prints its docstring's
#: first word and the prefix of the Python running it (docopt scripts need their docstring
#: intact), and a shell script, which no installer should touch
WHEEL_SCRIPTS = {
    "demo-where": (
        b'#!python\n# -*- coding: utf-8 -*-\n"""demo-where: says which Python runs it."""\n'
        b"import sys\nprint(__doc__.split(':')[0], sys.prefix)\n"
    ),
    "demo-shell": b'#!/bin/sh\necho "demo-shell ran"\n',
}


#: `fastadd`, a C extension module with one function, `add(a, b)`
C_SOURCE = """
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastadd", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastadd(void) { return PyModule_Create(&module); }
"""


def wheel_from_installed(distribution: str, folder: Path) -> Path:
    """The wheel of an installed distribution, rebuilt from its files (offline: for a real
    binary wheel such as py-rattler's when no copy of it is on disk); cached in `folder`."""
    from importlib.metadata import distribution as installed

    dist = installed(distribution)
    tags = [
        line.split(":", 1)[1].strip()
        for line in dist.read_text("WHEEL").splitlines()
        if line.startswith("Tag:")
    ]
    name = f"{escaped_name(dist.metadata['Name'])}-{dist.version}-{tags[0]}.whl"
    target = folder / name
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    record_name = next(str(f) for f in dist.files if str(f).endswith(".dist-info/RECORD"))
    lines = []
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
        for file in dist.files:
            member = str(file)
            if member == record_name or member.startswith("..") or "__pycache__" in member:
                continue
            if member.endswith(("/INSTALLER", "/REQUESTED", "/direct_url.json")):
                continue  # written by the installer, not part of the wheel
            data = file.locate().read_bytes()
            archive.writestr(member, data)
            lines.append(f"{member},{_record_hash(data)},{len(data)}")
        lines.append(f"{record_name},,")
        archive.writestr(record_name, "\n".join(lines) + "\n")
    partial.rename(target)
    return target


#: a small built documentation site: a page loading its own script and stylesheet, whose
#: script marks the page (`data-docs-ran`) so a browser test can see it ran
DOCS_SITE = {
    "index.html": b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Demo docs</title>"
    b"<link rel='stylesheet' href='_static/basic.css'><script src='_static/docs.js'></script>"
    b"</head><body><h1>Demo docs</h1><a href='api.html'>API</a></body></html>",
    "api.html": b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>API</title></head>"
    b"<body><h1>API</h1></body></html>",
    "_static/basic.css": b"body { font-family: sans-serif; }\n",
    "_static/docs.js": b"document.addEventListener('DOMContentLoaded', () => {"
    b" document.body.dataset.docsRan = 'yes'; });\n",
}


def make_docs_zip(folder: Path, members: dict[str, bytes] | None = None, prefix: str = "") -> Path:
    """A zip of built HTML docs (`DOCS_SITE` unless `members`), each under `prefix`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (members if members is not None else DOCS_SITE).items():
            zf.writestr(prefix + name, data)
    return path


def make_osv_zip(path: Path) -> Path:
    """A small OSV snapshot of two advisories: `vulnerable` below 2.0 (GHSA-vuln-0001,
    HIGH), `fine` 1.0 (PYSEC-fine-1, low by its CVSS v3 vector)."""
    advisories = {
        "GHSA-vuln-0001.json": {
            "id": "GHSA-vuln-0001",
            "summary": "remote code execution",
            "database_specific": {"severity": "HIGH"},
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "vulnerable"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                    ],
                }
            ],
        },
        "PYSEC-fine-1.json": {
            "id": "PYSEC-fine-1",
            "summary": "a small leak",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.0/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N"}
            ],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "fine"}, "versions": ["1.0"]}],
        },
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, document in advisories.items():
            archive.writestr(name, json.dumps(document))
    return path


#: the signatures of a zip's central directory record and local file header
ZIP_CENTRAL, ZIP_LOCAL = b"PK\x01\x02", b"PK\x03\x04"


def patch_zip_entry(path: Path, entry: str, *, flags: int = 0, method: int | None = None) -> Path:
    """Set `flags` in `entry`'s general-purpose bits, or its compression `method`, in its
    local header and its central directory record alike, in place."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local, record = zf.getinfo(entry).header_offset, zf.start_dir
    assert data[local : local + 4] == ZIP_LOCAL
    while data[record : record + 4] == ZIP_CENTRAL:
        size = struct.unpack("<HHH", data[record + 28 : record + 34])
        if data[record + 46 : record + 46 + size[0]].decode() == entry:
            break
        record += 46 + sum(size)
    else:
        raise AssertionError(f"{entry} is not in the central directory")
    for flags_at in (local + 6, record + 8):  # the method follows the flags in both
        old_flags, old_method = struct.unpack("<HH", data[flags_at : flags_at + 4])
        new_method = old_method if method is None else method
        data[flags_at : flags_at + 4] = struct.pack("<HH", old_flags | flags, new_method)
    path.write_bytes(bytes(data))
    return path
