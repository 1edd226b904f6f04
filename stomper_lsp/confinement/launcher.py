"""The tiny launcher every confined agent starts through: Landlock, then reap the whole tree.

Run as a standalone script (`python -I -S launcher.py [options] -- argv...`): it imports only
the standard library, so it starts in a few milliseconds and never runs code from the
project. It

1. becomes a *child subreaper*, so every process the agent double-forks or `setsid`s away is
   re-parented to it instead of to init, and can still be found and killed;
2. asks to be sent SIGTERM when Stomper dies (`kill -9` included), and kills the tree then;
3. forks the agent, which restricts itself with Landlock (write access only below the
   `--write` folders; the restriction binds every descendant and cannot be lifted) and execs;
4. when the agent exits (or on SIGTERM/SIGINT/SIGHUP), SIGKILLs every descendant left and
   exits the way the agent did.

Landlock confines file access, not processes: step 1 is what reaps. Inside bubblewrap's PID
namespace step 1 is redundant but harmless.
"""

from __future__ import annotations

# Not `signal`: its enum import adds a third to the launcher's start-up time.
import _signal as signal  # type: ignore[import-not-found]
import ctypes
import errno
import os
import sys

# Landlock UAPI (linux/landlock.h). The syscall numbers are the same on every architecture
# that has them (x86_64, aarch64, riscv64 ...).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_WRITE_FILE = 1 << 1
_REMOVE_DIR = 1 << 4
_REMOVE_FILE = 1 << 5
_MAKE_CHAR = 1 << 6
_MAKE_DIR = 1 << 7
_MAKE_REG = 1 << 8
_MAKE_SOCK = 1 << 9
_MAKE_FIFO = 1 << 10
_MAKE_BLOCK = 1 << 11
_MAKE_SYM = 1 << 12
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3
_SCOPE_SIGNAL = 1 << 1  # ABI 6: no signals to processes outside the domain (Stomper)
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
# Devices every program may write to; everything else outside the rules is read-only.
_WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx")
_WRITABLE_DEVICE_DIRS = ("/dev/pts",)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    try:
        found = _libc.syscall(
            ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
            ctypes.c_uint32(_CREATE_RULESET_VERSION),
        )
    except (AttributeError, OSError):
        return 0
    return max(int(found), 0)


def write_rights(abi: int) -> int:
    """Every write-like file system right the kernel knows at `abi` (reads stay free)."""
    rights = (
        _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_CHAR | _MAKE_DIR | _MAKE_REG
        | _MAKE_SOCK | _MAKE_FIFO | _MAKE_BLOCK | _MAKE_SYM
    )
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def _fail(message: str) -> None:
    raise OSError(ctypes.get_errno(), f"{message}: {os.strerror(ctypes.get_errno())}")


def landlock_ruleset(abi: int, writable: list[str]) -> int:
    """A ruleset fd allowing writes only below `writable` (and to harmless devices)."""
    handled = write_rights(abi)
    attr = _RulesetAttr(handled, 0, _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = int(_libc.syscall(
        ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    ))
    if fd < 0:
        _fail("landlock_create_ruleset")
    file_rights = handled & (_WRITE_FILE | _TRUNCATE)
    rules = [(path, handled) for path in writable]
    rules += [(path, file_rights) for path in _WRITABLE_DEVICES]
    rules += [(path, handled) for path in _WRITABLE_DEVICE_DIRS]
    for path, rights in rules:
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            if path in writable:
                raise
            continue  # a device this machine does not have
        try:
            is_dir = os.path.isdir(path)
            beneath = _PathBeneathAttr(rights if is_dir else rights & file_rights, target)
            done = _libc.syscall(
                ctypes.c_long(_SYS_ADD_RULE), ctypes.c_int(fd),
                ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(beneath), ctypes.c_uint32(0),
            )
            if done < 0:
                _fail(f"landlock_add_rule({path})")
        finally:
            os.close(target)
    return fd


def restrict_self(ruleset: int) -> None:
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _fail("prctl(PR_SET_NO_NEW_PRIVS)")
    if _libc.syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_int(ruleset),
                     ctypes.c_uint32(0)) < 0:
        _fail("landlock_restrict_self")


def _descendants(root: int) -> list[int]:
    """Every live process below `root`, read from /proc (parents before children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        if fields and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _reap_all() -> None:
    """Kill what is left of the tree and wait for it. As subreaper every orphan becomes our
    child, so "no child left" means "no descendant left" (the fast, common case)."""
    me = os.getpid()
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # reap what already ended
        except ChildProcessError:
            return
        for pid in _descendants(me):
            try:  # noqa: SIM105 - contextlib would cost start-up time
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


class _Stop(Exception):
    def __init__(self, sig: int) -> None:
        self.sig = sig


def _on_signal(sig: int, _frame: object) -> None:
    raise _Stop(sig)


def _usage(message: str) -> None:
    sys.stderr.write(f"stomper launcher: {message}\n")
    os._exit(125)


def main(args: list[str]) -> None:
    writable: list[str] = []
    abi = 0
    parent = 0
    while args and args[0] != "--":
        option, value = args[0], args[1] if len(args) > 1 else ""
        if option == "--write":
            writable.append(value)
        elif option == "--landlock-abi":
            abi = int(value)
        elif option == "--parent":
            parent = int(value)
        else:
            _usage(f"unknown option {option!r}")
        args = args[2:]
    argv = args[1:]
    if not argv:
        _usage("nothing to run (expected: [options] -- program args...)")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent and os.getppid() != parent:
        os._exit(125)  # Stomper died before we could ask to be told
    ruleset = -1
    if abi:
        try:
            ruleset = landlock_ruleset(abi, writable)
        except OSError as exc:
            # Never run an agent unconfined when confinement was asked for.
            _usage(f"cannot set up Landlock: {exc.strerror or exc}")
    try:
        child = os.fork()
        if child == 0:
            _run_child(ruleset, argv)
        status = 0
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == child:
                break
        _reap_all()
    except _Stop as stop:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        _reap_all()
        signal.signal(stop.sig, signal.SIG_DFL)
        os.kill(os.getpid(), stop.sig)
        os._exit(128 + stop.sig)
    _exit_like(status)


def _run_child(ruleset: int, argv: list[str]) -> None:
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if ruleset >= 0:
            restrict_self(ruleset)
            os.close(ruleset)
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"stomper launcher: cannot run {argv[0]!r}: {exc.strerror or exc}\n")
        os._exit(127 if exc.errno == errno.ENOENT else 126)
    except BaseException:
        os._exit(126)


if __name__ == "__main__":
    main(sys.argv[1:])
