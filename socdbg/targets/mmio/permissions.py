"""Errors that say what access is needed: who owns a device file, which group or capability
opens it, and why the kernel refused a mapping (``/dev/mem`` under STRICT_DEVMEM)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from socdbg.errors import TargetError

_DEVMEM = ("/dev/mem", "/dev/kmem")


def _owner(st: os.stat_result) -> tuple[str, str]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return user, group


def _who() -> str:
    import pwd

    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return f"uid {uid} ({name})"


def access_denied(path: str, writable: bool, st: os.stat_result | None = None
                  ) -> TargetError:
    """The error for a resource file socdbg may not open: the access it needs, the file's
    owner, group and mode, who is asking, and what would let them in."""
    want = "reading and writing" if writable else "reading"
    if st is None:
        with contextlib.suppress(OSError):
            st = os.stat(path)
    facts = f"you are {_who()}"
    group = None
    if st is not None:
        user, group = _owner(st)
        facts = (f"{path} is owned by {user}:{group}, mode {stat.filemode(st.st_mode)} "
                 f"({stat.S_IMODE(st.st_mode):04o}); " + facts)
    if path in _DEVMEM or os.path.realpath(path) in _DEVMEM:
        hint = ("/dev/mem needs root (CAP_SYS_RAWIO): group access is not enough. Run as root, "
                "or use a pci: or uio: target, whose files can be given to a group")
    else:
        need = "read and write" if writable else "read"
        bits = "rw" if writable else "r"
        who = "writes (--allow-writes) need" if writable else "reads need"
        bit_ok = st is not None and all(
            st.st_mode & flag for flag in (stat.S_IRGRP, stat.S_IWGRP)[: len(bits)])
        if group not in (None, "root") and bit_ok:
            grant = (f"join group {group}, which has {need} access (sudo usermod -aG {group} "
                     "$USER, then log in again)")
        else:
            grant = (f"give a group of yours {need} access: sudo chgrp GROUP {path} && "
                     f"sudo chmod g+{bits} {path}")
        hint = f"{who} {need} access to {path}: run as root, or {grant}"
    return TargetError(f"cannot open {path} for {want}: permission denied ({facts})", hint)


def map_refused(path: str, offset: int, size: int, exc: OSError) -> TargetError:
    what = f"cannot map {path} {offset:#x}+{size:#x}: {exc.strerror or exc}"
    if exc.errno == errno.EPERM:
        if path in _DEVMEM or os.path.realpath(path) in _DEVMEM:
            return TargetError(what, "the kernel refuses /dev/mem access to that range: "
                               "CONFIG_STRICT_DEVMEM/CONFIG_IO_STRICT_DEVMEM allow only ranges "
                               "no driver claims (boot with iomem=relaxed, or unbind the "
                               "driver); kernel lockdown (Secure Boot) forbids /dev/mem")
        return TargetError(what, "kernel lockdown (Secure Boot) forbids mapping device memory "
                           "from user space")
    if exc.errno in (errno.EINVAL, errno.ENXIO, errno.ENODEV):
        return TargetError(what, "the range is not mappable: check it lies inside the "
                           "resource (a BAR or UIO map) and is not an I/O-port BAR")
    return TargetError(what)
