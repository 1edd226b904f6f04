#!/usr/bin/env python3
"""A fake AI coding agent: a real executable that really edits files, for Stomper's tests.

Stdlib only. Every flag is documented in README.md next to this file. Steps run in this
order: count/fail-first, sleep, replace, append, write, syntax-error, ruff-fix, delete,
touch-git, spew, hang, read-stdin, crash.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

SLEEP_FOREVER = "import time\nwhile True: time.sleep(3600)\n"


def _unescape(text: str) -> str:
    """Interpret Python escapes (`\\n`, `\\t`, `\\\\`) so argv can carry newlines."""
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fake_agent.py", description=__doc__)
    p.add_argument("target", nargs="?", help="file to edit, relative to the cwd")
    p.add_argument("--count-file", type=Path, help="append one line per invocation")
    p.add_argument("--fail-first", type=int, default=0, metavar="N",
                   help="do nothing on the first N invocations (needs --count-file)")
    p.add_argument("--sleep", type=float, default=0.0, metavar="S")
    p.add_argument("--replace", nargs=2, action="append", default=[], metavar=("OLD", "NEW"))
    p.add_argument("--append", metavar="TEXT")
    p.add_argument("--write", nargs=2, action="append", default=[], metavar=("PATH", "TEXT"))
    p.add_argument("--remove", action="append", default=[], metavar="PATH",
                   help="delete PATH (relative to the cwd); repeatable")
    p.add_argument("--link", nargs=2, action="append", default=[], metavar=("PATH", "DEST"),
                   help="replace PATH with a symbolic link to DEST; repeatable")
    p.add_argument("--late-write", metavar="TEXT",
                   help="a setsid double-forked daemon rewrites the target with TEXT later")
    p.add_argument("--late-delay", type=float, metavar="S",
                   help="for --late-write: sleep S s (default: wait until a checker that ran "
                        "in this folder has finished)")
    p.add_argument("--syntax-error", action="store_true")
    p.add_argument("--ruff-fix", action="store_true")
    p.add_argument("--ruff", help="ruff binary for --ruff-fix (default: next to the python)")
    p.add_argument("--delete", action="store_true")
    p.add_argument("--touch-git", action="store_true")
    p.add_argument("--spew", type=float, default=0.0, metavar="MB")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--pid-dir", type=Path)
    p.add_argument("--announce", type=Path, metavar="DIR",
                   help="write DIR/<pid>.json {pid, target, start} before sleeping, "
                   "and its 'end' once the edits are done")
    p.add_argument("--read-stdin", action="store_true")
    p.add_argument("--stdin-record", type=Path)
    p.add_argument("--record-argv", type=Path, metavar="PATH",
                   help="write {argv, cwd, prompt} as JSON (prompt: text of an existing .md arg)")
    p.add_argument("--crash", action="store_true")
    p.add_argument("--try-write", nargs=2, action="append", default=[], metavar=("PATH", "TEXT"),
                   help="write PATH (absolute, ~ or ../ allowed); a refusal is printed, not fatal")
    p.add_argument("--attack-project", nargs=2, action="append", default=[],
                   metavar=("REL", "TEXT"),
                   help="find the user's real project (alternates, parent's cwd, $PWD) and "
                        "write REL there")
    p.add_argument("--attack-siblings", metavar="TEXT",
                   help="write `escaped.py` into every other sandbox slot of the run")
    p.add_argument("--daemon", type=Path, metavar="HEARTBEAT",
                   help="double-fork a setsid daemon that appends to HEARTBEAT every 0.05 s")
    return p


def _target(args: argparse.Namespace) -> Path:
    if not args.target:
        sys.exit("fake_agent.py: this flag needs the target file as positional argument")
    return Path(args.target)


def _edit(target: Path, change: Callable[[str], str]) -> None:
    target.write_text(change(target.read_text(encoding="utf-8")), encoding="utf-8")


def _replace(target: Path, old: str, new: str) -> None:
    _edit(target, lambda text: text.replace(old, new))


def _ruff_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ruff")
    if not found:
        sys.exit("fake_agent.py: no ruff next to the python or on PATH (pass --ruff)")
    return found


def _record_argv(path: Path) -> None:
    prompt = None
    for arg in sys.argv[1:]:
        candidate = Path(arg)
        if arg.endswith(".md") and candidate.is_absolute() and candidate.is_file():
            prompt = candidate.read_text(encoding="utf-8")
    data = {"argv": sys.argv, "cwd": os.getcwd(), "prompt": prompt}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _checkers_here(cwd: str) -> set[int]:
    """Pids of ruff/mypy processes working in `cwd` (what Stomper's re-check runs)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            here = os.readlink(f"/proc/{entry}/cwd") == cwd
        except OSError:
            continue
        names = [os.path.basename(arg) for arg in argv[:3]]
        if here and any(name == b"ruff" or name.startswith(b"mypy") for name in names):
            found.add(int(entry))
    return found


def _wait_for_a_check(cwd: str, limit: float = 20.0) -> None:
    """Return once a checker has started in `cwd` and every one of them has ended."""
    deadline = time.monotonic() + limit
    seen = False
    while time.monotonic() < deadline:
        running = _checkers_here(cwd)
        if running:
            seen = True
        elif seen:
            return
        time.sleep(0.002)


def _late_write(target: Path, text: str, delay: float | None) -> None:
    """Detach a daemon (setsid, double fork, stdio closed) that rewrites the target later."""
    cwd = os.getcwd()
    if os.fork() > 0:
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        if delay is not None:
            time.sleep(delay)
        else:
            _wait_for_a_check(cwd)
        # In one step (a new file renamed over the target): truncating then writing would
        # leave an empty file for a moment, and an empty file is a genuine fix of every
        # issue, which Stomper may rightly verify and deliver.
        scratch = target.with_name(f".{target.name}.late")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, target)
    finally:
        os._exit(0)


def _hang(pid_dir: Path | None) -> None:
    child = subprocess.Popen([sys.executable, "-c", SLEEP_FOREVER])
    if pid_dir is not None:
        pid_dir.mkdir(parents=True, exist_ok=True)
        (pid_dir / "child.pid").write_text(str(child.pid))
        (pid_dir / "agent.pid").write_text(str(os.getpid()))
    while True:
        time.sleep(3600)


def _read_stdin(record: Path | None) -> None:
    if sys.stdin is None:
        data, state = "", "no stdin"
    else:
        data, state = sys.stdin.read(), "eof"
    if record is not None:
        record.write_text(json.dumps({"state": state, "data": data}), encoding="utf-8")


def _crash() -> None:
    try:
        raise RuntimeError("fake agent crashed on purpose (--crash)")
    except RuntimeError:
        traceback.print_exc()
    sys.exit(3)


def _try_write(path: str, text: str) -> None:
    destination = Path(os.path.expanduser(path))
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_unescape(text), encoding="utf-8")
        print(f"fake agent: wrote {destination}")
    except OSError as exc:
        print(f"fake agent: could not write {destination}: {exc}")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL).stdout.strip()


def _project_candidates() -> list[Path]:
    """Every way an agent has found the user's real project from inside its sandbox."""
    found: list[Path] = []
    common = _git("rev-parse", "--path-format=absolute", "--git-common-dir")
    alternates = Path(common) / "objects" / "info" / "alternates"
    if common and alternates.is_file():
        for line in alternates.read_text(encoding="utf-8").splitlines():
            found.append(Path(line.strip()).parent.parent)  # <project>/.git/objects
    with contextlib.suppress(OSError):
        found.append(Path(os.readlink(f"/proc/{os.getppid()}/cwd")))
    if os.environ.get("PWD"):
        found.append(Path(os.environ["PWD"]))
    return found


def _attack_project(rel: str, text: str) -> None:
    for project in dict.fromkeys(_project_candidates()):
        if (project / ".git").is_dir() and project != Path.cwd():
            _try_write(str(project / rel), text)


def _attack_siblings(text: str) -> None:
    top = Path(_git("rev-parse", "--show-toplevel") or ".").resolve()
    for sibling in sorted(top.parent.iterdir()):
        if sibling != top and sibling.is_dir():
            _try_write(str(sibling / "escaped.py"), text)
    _try_write(str(top.parent / "dropped-in-run-dir.txt"), text)


def _daemon(heartbeat: Path) -> None:
    if os.fork() != 0:
        deadline = time.monotonic() + 2
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the daemon is running once it has beaten
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        try:
            with heartbeat.open("a", encoding="utf-8") as beat:
                beat.write(f"{os.getpid()} {time.time()}\n")
        except OSError:
            pass
        time.sleep(0.05)


def _announce(folder: Path, target: str | None) -> Path:
    """Tell a test this agent is running (and which pid to kill), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "target": target, "start": time.time()}
    # Unique even in a PID namespace (bubblewrap), where every agent may be pid 2.
    name = f"{os.getpid()}-{time.monotonic_ns()}-{os.urandom(4).hex()}"
    path = folder / f"{name}.json"
    staging = folder / f".{name}.tmp"
    staging.write_text(json.dumps(record), encoding="utf-8")
    os.replace(staging, path)
    return path


def _finish_announcement(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record["end"] = time.time()
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(record), encoding="utf-8")
    os.replace(staging, path)


def main() -> None:
    # Unknown options and extra words are ignored, so it can stand in for an agent CLI.
    args, _ignored = _parser().parse_known_args()
    if args.record_argv:
        _record_argv(args.record_argv)
    if args.count_file:
        with args.count_file.open("a", encoding="utf-8") as counter:
            counter.write(f"{os.getpid()}\n")
        invocation = len(args.count_file.read_text(encoding="utf-8").splitlines())
        if invocation <= args.fail_first:
            print(f"fake agent: invocation {invocation} does nothing (--fail-first)")
            return
    elif args.fail_first:
        sys.exit("fake_agent.py: --fail-first needs --count-file")
    announced = _announce(args.announce, args.target) if args.announce else None
    if args.sleep:
        time.sleep(args.sleep)
    for old, new in args.replace:
        _replace(_target(args), _unescape(old), _unescape(new))
    if args.append is not None:
        _edit(_target(args), lambda text: text + _unescape(args.append))
    for path, text in args.write:
        destination = Path(path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_unescape(text), encoding="utf-8")
    for path in args.remove:
        Path(path).unlink()
    for path, dest in args.link:
        Path(path).unlink(missing_ok=True)
        Path(path).symlink_to(dest)
    if args.late_write is not None:
        _late_write(_target(args).resolve(), _unescape(args.late_write), args.late_delay)
    if args.syntax_error:
        _edit(_target(args), lambda text: text + "def broken(:\n")
    if args.ruff_fix:
        subprocess.run(
            [_ruff_binary(args.ruff), "check", "--fix", "--unsafe-fixes", "--no-cache", "--",
             str(_target(args))],
            stdin=subprocess.DEVNULL, check=False,
        )
    if args.delete:
        _target(args).unlink()
    if args.touch_git:
        git_dir = subprocess.run(
            ["git", "rev-parse", "--git-dir"], capture_output=True, text=True, check=True,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
        (Path(git_dir) / "stomper-was-here").write_text("fake agent\n", encoding="utf-8")
    if args.spew:
        line = b"x" * 1023 + b"\n"
        for _ in range(int(args.spew * 1024)):
            sys.stdout.buffer.write(line)
        sys.stdout.flush()
    for path, text in args.try_write:
        _try_write(path, text)
    for rel, text in args.attack_project:
        _attack_project(rel, text)
    if args.attack_siblings is not None:
        _attack_siblings(args.attack_siblings)
    if args.daemon is not None:
        _daemon(args.daemon)
    if args.hang:
        _hang(args.pid_dir)
    if args.read_stdin:
        _read_stdin(args.stdin_record)
    if announced is not None:
        _finish_announcement(announced)
    if args.crash:
        _crash()
    print("fake agent: done")


if __name__ == "__main__":
    main()
