"""What an sdist's build looks for outside Python, over real sdists' build scripts and
sources (pure); the curated table that names the conda packages providing it."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_sdist

from drawbridge.bridge.recipes.build_machine import is_system_header
from drawbridge.bridge.recipes.native_needs import (
    LibraryTable,
    LibraryTableError,
    NativeNeed,
    build_script_needs,
    default_table,
    header_needs,
    includes,
    load_table,
    provisions,
)
from drawbridge.bridge.recipes.sdist_facts import read_sdist_facts

TABLE = default_table()

#: mysqlclient 2.3.2's setup.py: pkg-config names in a list, the call with a variable
MYSQLCLIENT = '''
def find_package_name():
    """Get available pkg-config package name"""
    # Ubuntu uses mariadb.pc, but CentOS uses libmariadb.pc
    packages = ["mysqlclient", "mariadb", "libmariadb", "perconaserverclient"]
    for pkg in packages:
        try:
            cmd = f"pkg-config --exists {pkg}"
            print(f"Trying {cmd}")
            subprocess.check_call(cmd, shell=True)
        except subprocess.CalledProcessError as err:
            print(err)
        else:
            return pkg
    raise Exception(
        "Can not find valid pkg-config name.\\n"
        "Specify MYSQLCLIENT_CFLAGS and MYSQLCLIENT_LDFLAGS env vars manually"
    )


def get_config_win32(options):
    client = "mariadbclient"
    connector = os.environ.get("MYSQLCLIENT_CONNECTOR", options.get("connector"))
    if not connector:
        connector = os.path.join(
            os.environ["ProgramFiles"], "MariaDB", "MariaDB Connector C"
        )
    libraries = [
        "kernel32",
        "advapi32",
        "wsock32",
        "shlwapi",
        "Ws2_32",
        "crypt32",
        "secur32",
        "bcrypt",
        client,
    ]
'''
#: psycopg2 2.9.13's setup.py and setup.cfg: pg_config found on PATH, or named in setup.cfg
PSYCOPG2 = """
    def autodetect_pg_config_path(self):
        \"\"\"Find and return the path to the pg_config executable.\"\"\"
        if PLATFORM_IS_WINDOWS:
            return self.autodetect_pg_config_path_windows()
        else:
            return self.find_on_path('pg_config')
"""
PSYCOPG2_CFG = "[build_ext]\ndefine = PSYCOPG_DEBUG\npg_config = \nhave_ssl = 0\nlibraries = \n"
#: lxml 6.2.0's setupinfo.py
LXML = """
    PKG_CONFIG = os.getenv('PKG_CONFIG', 'pkg-config')
    xml2_version = get_library_version(PKG_CONFIG, 'libxml-2.0')
    if xml2_version:
        xslt_version = get_library_version(PKG_CONFIG, 'libxslt')
    # Try xml2-config and xslt-config
    XML2_CONFIG = os.getenv('XML2_CONFIG', 'xml2-config')
"""
#: pycairo 1.29.2's cairo/meson.build
PYCAIRO = """
cairo_dep = dependency('cairo', version: cair_version_req, required: cc.get_id() != 'msvc')
if not cairo_dep.found()
    cairo_dep = cc.find_library('cairo')
endif
python_dep = py.dependency()
thread_dep = dependency('threads')
"""
#: PyYAML 6.0.4's setup.py: a C extension linked with libyaml
PYYAML = """
        ext_modules=[
            Extension('yaml._yaml', ['yaml/_yaml.pyx'],
                'libyaml', "LibYAML bindings", LIBYAML_CHECK,
                libraries=['yaml'],
            ),
        ],
"""
#: a CMake project as scikit-build-core builds it
CMAKE = """
cmake_minimum_required(VERSION 3.15)
find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)
find_package(pybind11 CONFIG REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PROJ REQUIRED IMPORTED_TARGET proj>=8.0)
"""
#: h5py-style use of the pkgconfig module, and ctypes' find_library in a build helper
PKGCONFIG_MODULE = "import pkgconfig\nd = pkgconfig.parse('hdf5')\n"
FIND_LIBRARY = 'from ctypes.util import find_library\nif not find_library("magic"):\n'
#: prose about pkg-config names nothing
PROSE = 'print("pkg-config is required to build this package; install pkg-config first")\n'


def needs(path: str, text: str) -> list[tuple[str, str]]:
    return [(n.kind, n.name) for n in build_script_needs(path, text, TABLE)]


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (
            "setup.py",
            MYSQLCLIENT,
            [
                ("pkg-config", n)
                for n in ("mysqlclient", "mariadb", "libmariadb", "perconaserverclient")
            ],
        ),  # not "MariaDB" (a folder), nor Windows' system libraries, nor a variable
        ("setup.py", PSYCOPG2, [("config", "pg_config")]),
        ("setup.cfg", PSYCOPG2_CFG, [("config", "pg_config")]),
        (
            "setupinfo.py",
            LXML,
            [
                ("pkg-config", "libxml-2.0"),
                ("pkg-config", "libxslt"),
                ("config", "xml2-config"),
                ("config", "xslt-config"),  # named in a comment: words count too
            ],
        ),
        ("cairo/meson.build", PYCAIRO, [("pkg-config", "cairo"), ("link", "cairo")]),
        ("setup.py", PYYAML, [("link", "yaml")]),
        (
            "CMakeLists.txt",
            CMAKE,
            [("pkg-config", "proj"), ("cmake", "HDF5")],
        ),  # Python, pybind11 and PkgConfig are the toolchain
        ("setup.py", PKGCONFIG_MODULE, [("pkg-config", "hdf5")]),
        ("setup.py", FIND_LIBRARY, [("link", "magic")]),
        (
            "setup.py",
            'subprocess.run(["pkg-config", "--cflags", "libfoo"])',
            [("pkg-config", "libfoo")],
        ),
        (
            "setup.py",
            "os.popen('pkg-config --cflags --libs gtk+-3.0 >= 3.0')",
            [("pkg-config", "gtk+-3.0")],
        ),
        ("setup.py", PROSE, []),
    ],
    ids=[
        "mysqlclient",
        "psycopg2",
        "psycopg2 setup.cfg",
        "lxml",
        "pycairo meson",
        "pyyaml",
        "cmake",
        "pkgconfig module",
        "find_library",
        "argument list",
        "shell string",
        "prose",
    ],
)
def test_what_build_scripts_look_for(path: str, text: str, expected: list[tuple[str, str]]):
    assert needs(path, text) == expected


def test_includes_for_another_platform_are_left_out():
    # psycopg2's libpq_support.c and python-ldap's common.h, shortened
    source = """
#include <libpq-fe.h>
#ifdef _WIN32
#include <winsock2.h>
#include <wincrypt_only.h>
#else
#include <arpa/inet.h>
#include <unix_only.h>
#endif
#if defined(MS_WINDOWS)
#include <winsock.h>
#elif defined(__APPLE__)
#include <mac_only.h>
#else /* unix */
#include <netdb.h>
#endif
#ifndef _WIN32
#include <not_windows.h>
#else
#include <windows_again.h>
#endif
#if !defined(__APPLE__) && HAVE_FOO
#include "foo.h"
#endif
"""
    assert [header for header, _ in includes(source)] == [
        "libpq-fe.h",
        "arpa/inet.h",
        "unix_only.h",
        "netdb.h",
        "not_windows.h",
        "foo.h",
    ]
    assert includes('cdef extern from "yaml.h":\n    pass\ncdef extern from *:\n') == [
        ("yaml.h", False)
    ]


def test_every_pythons_own_header_is_a_system_header():
    pyenv = Path.home() / ".pyenv" / "versions"
    headers = [
        path.relative_to(include).as_posix()
        for include in pyenv.glob("*/include/python*")
        for path in include.rglob("*.h")
    ]
    if not headers:
        pytest.skip("no pyenv Pythons here")
    assert [h for h in headers if not is_system_header(h)] == []
    for system in ("stdio.h", "sys/types.h", "vector", "immintrin.h", "numpy/arrayobject.h"):
        assert is_system_header(system)
    for library in ("libpq-fe.h", "mysql.h", "openssl/ssl.h", "foo.h"):
        assert not is_system_header(library)


def test_headers_the_sdist_ships_or_the_table_does_not_know_quoted():
    found = [
        ("src/a.c", "mysql.h", False),  # quoted, but the table knows it
        ("src/a.c", "local.h", False),  # quoted: the project's own, maybe generated
        ("src/a.c", "shipped.h", True),
        ("src/a.c", "../include/vendor.h", True),
        ("src/a.c", "stdio.h", True),
        ("src/b.c", "foo.h", True),
        ("src/c.c", "foo.h", True),  # once
    ]
    members = ["src/a.c", "src/shipped.h", "include/vendor.h"]
    assert header_needs(found, members, TABLE) == [
        NativeNeed("header", "mysql.h", "src/a.c"),
        NativeNeed("header", "foo.h", "src/b.c"),
    ]


def test_needs_grouped_by_library_with_the_conda_packages():
    found = [
        NativeNeed("pkg-config", "mysqlclient", "setup.py"),
        NativeNeed("config", "pg_config", "setup.py"),
        NativeNeed("header", "mysql/mysql.h", "src/_mysql.c"),
        NativeNeed("header", "libpq-fe.h", "psycopg/green.h"),
        NativeNeed("link", "foo", "setup.py"),
    ]
    mysql, libpq, foo = provisions(found, TABLE)
    assert mysql.library and mysql.library.key == "mysql"
    assert {"mysql-connector-c", "libmysqlclient"} <= set(mysql.conda)
    assert mysql.runs_pkg_config and not libpq.runs_pkg_config
    assert mysql.evidence() == "setup.py: pkg-config mysqlclient; src/_mysql.c: <mysql/mysql.h>"
    assert libpq.conda == ("libpq",) and libpq.files == ("setup.py", "psycopg/green.h")
    assert foo.library is None and foo.what == "-lfoo" and foo.conda == ()


def test_the_table_holds_the_common_libraries():
    keys = {library.key for library in TABLE.libraries}
    for wanted in (
        "mysql libpq openssl libffi zlib libxml2 libxslt libjpeg libpng freetype sqlite bzip2 "
        "xz yaml hdf5 gdal geos proj blas curl libuv cairo gmp mpfr"
    ).split():
        assert wanted in keys
    for library in TABLE.libraries:
        assert library.conda and library.what, library.key


def test_a_broken_table_is_named(tmp_path: Path):
    path = tmp_path / "c-libraries.toml"
    path.write_text('[nolib]\nwhat = "no packages"\n')
    with pytest.raises(LibraryTableError, match=r"\[nolib\] must be a table with conda"):
        load_table(path)
    path.write_text('[lib]\nconda = ["x"]\nheaders = "x.h"\n')
    with pytest.raises(LibraryTableError, match=r"\[lib\] headers must be a list"):
        load_table(path)
    assert load_table(tmp_path / "missing.toml") == LibraryTable()


def test_sdist_facts_name_what_the_build_looks_for(tmp_path: Path):
    """Read from the sdist: setup.py and the C sources, not tests' and vendored copies."""
    setup = b'import subprocess\nsubprocess.run("pkg-config --cflags libfoo", shell=True)\n'
    members = {
        "needy-1.0/setup.py": setup,
        "needy-1.0/src/needy.c": b"#include <Python.h>\n#include <foo.h>\n#include <zlib.h>\n",
        "needy-1.0/src/needy.h": b'#include "needy_config.h"\n#include <sqlite3.h>\n',
        "needy-1.0/tests/helper.c": b"#include <only_for_tests.h>\n",
        "needy-1.0/third_party/lib/x.c": b"#include <vendored_dep.h>\n",
    }
    facts = read_sdist_facts(make_sdist(tmp_path, "needy", "1.0", members=members))
    assert [(n.kind, n.name, n.where) for n in facts.native_needs] == [
        ("pkg-config", "libfoo", "setup.py"),
        ("header", "foo.h", "src/needy.c"),
        ("header", "zlib.h", "src/needy.c"),
        ("header", "sqlite3.h", "src/needy.h"),
    ]
    keys = [p.library.key if p.library else p.what for p in provisions(facts.native_needs, TABLE)]
    assert keys == ["pkg-config libfoo", "<foo.h>", "zlib", "sqlite"]
