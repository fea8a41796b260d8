"""What every build machine has without a conda package: the C library's, POSIX's, the
operating systems', compilers' and Python's headers, and the libraries the linker always
finds (pure data, and the one question asked of it)."""

from __future__ import annotations

from pathlib import PurePosixPath

#: the C standard library's and POSIX's headers (and glibc's usual extras)
C_AND_POSIX = frozenset(
    """assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h
    math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h
    stdlib.h stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h aio.h
    cpio.h dirent.h dlfcn.h fcntl.h fmtmsg.h fnmatch.h ftw.h glob.h grp.h iconv.h langinfo.h
    libgen.h monetary.h mqueue.h ndbm.h netdb.h nl_types.h poll.h pthread.h pwd.h regex.h
    sched.h search.h semaphore.h spawn.h strings.h syslog.h tar.h termios.h trace.h ulimit.h
    unistd.h utime.h utmp.h utmpx.h wordexp.h alloca.h malloc.h memory.h features.h endian.h
    byteswap.h execinfo.h link.h elf.h pty.h shadow.h ifaddrs.h paths.h sysexits.h values.h
    err.h error.h getopt.h argp.h mntent.h crypt.h libintl.h stdio_ext.h ucontext.h
    termio.h sgtty.h omp.h cpuid.h""".split()
)
#: Windows' and macOS' own headers, and compilers' intrinsics
OS_AND_COMPILER = frozenset(
    """windows.h winsock.h winsock2.h ws2tcpip.h mswsock.h iphlpapi.h windef.h winbase.h
    winerror.h winnt.h winreg.h winuser.h wincrypt.h wininet.h winhttp.h shlobj.h shlwapi.h
    shellapi.h objbase.h ole2.h oleauto.h psapi.h dbghelp.h tlhelp32.h userenv.h process.h
    io.h direct.h conio.h crtdbg.h tchar.h share.h mbstring.h bcrypt.h ntstatus.h
    sddl.h aclapi.h lmcons.h versionhelpers.h commctrl.h mmsystem.h intrin.h arm_neon.h
    arm_acle.h altivec.h libproc.h availability.h availabilitymacros.h targetconditionals.h
    crt_externs.h copyfile.h""".split()
)
#: header folders of the C library, the kernel, the OS and compilers
SYSTEM_FOLDERS = (
    "sys/", "bits/", "linux/", "asm/", "asm-generic/", "arpa/", "netinet/", "netinet6/", "net/",
    "netpacket/", "gnu/", "mach/", "mach-o/", "libkern/", "os/", "dispatch/", "xlocale/",
    "corefoundation/", "coreservices/", "foundation/", "security/", "iokit/", "carbon/",
    "applicationservices/", "systemconfiguration/", "accelerate/", "metal/", "sanitizer/",
)  # fmt: skip
#: header folders that Python packages in requirements.host provide, not C libraries
PYTHON_PACKAGE_FOLDERS = ("numpy/", "pybind11/", "nanobind/", "cython/", "pythran/", "cpython/")
#: CPython's headers whose names do not start with "py" nor end in "object.h"
PYTHON_HEADERS = frozenset(
    """python.h abstract.h accu.h asdl.h ast.h bitset.h bltinmodule.h bytes_methods.h
    cstringio.h ceval.h code.h codecs.h compile.h context.h critical_section.h datetime.h
    dtoa.h dynamic_annotations.h errcode.h eval.h exports.h fileutils.h graminit.h grammar.h
    import.h intrcheck.h lock.h longintrepr.h marshal.h metagrammar.h modsupport.h
    monitoring.h node.h objimpl.h opcode.h opcode_ids.h osdefs.h osmodule.h parsetok.h
    patchlevel.h pgen.h pgenheaders.h structmember.h structseq.h symtable.h sysmodule.h
    timefuncs.h token.h traceback.h tracemalloc.h typeslots.h ucnhash.h warnings.h""".split()
)
#: what the linker always has: the C/C++ runtimes, and Windows' system libraries
SYSTEM_LINK = frozenset(
    """m c dl pthread rt util stdc++ c++ gcc gcc_s gomp omp atomic quadmath gfortran resolv
    nsl socket execinfo iconv intl kernel32 user32 advapi32 shell32 ole32 oleaut32 uuid
    crypt32 secur32 bcrypt shlwapi wsock32 ws2_32 iphlpapi psapi dbghelp winmm gdi32
    comdlg32 version ntdll userenv mswsock rpcrt4 setupapi cfgmgr32 netapi32 normaliz""".split()
)


def is_system_header(header: str) -> bool:
    """Whether every build machine has `header`: the C library's, POSIX's, the OS's, a
    compiler's, C++'s (no suffix), Python's own, or a Python package's in host."""
    name = header.lower().lstrip("./")
    base = PurePosixPath(name).name
    if "." not in base or name.startswith(SYSTEM_FOLDERS + PYTHON_PACKAGE_FOLDERS):
        return True
    if name in C_AND_POSIX or name in OS_AND_COMPILER or name in PYTHON_HEADERS:
        return True
    if name.endswith("intrin.h") or name.startswith("internal/"):
        return True
    return "/" not in name and (name.startswith("py") or name.endswith("object.h"))
