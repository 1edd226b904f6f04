"""Run external tools without ever blocking the event loop or leaking processes.

Every tool Stomper starts (checkers, agents, test commands) goes through `run_process`:
no shell, stdin closed (or fed and closed), its own process group, a hard timeout, and the
whole group killed on timeout, cancellation, or when the leader exits but children linger.
Two variants keep those rules: `Dialogue`, one process answering many requests, and
`Started`, a short tool on a keystroke's path, started without asyncio's watcher thread
and possibly before its input is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stomper_lsp.confinement.spec import Confinement

DEFAULT_OUTPUT_LIMIT = 8 * 1024 * 1024
_KILL_GRACE_S = 0.5
_PIPE_GRACE_S = 1.0


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration_s: float
    truncated: bool
    stopped: bool = False
    """Ended early because its `watch` saw enough in its output (see run_process)."""

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


class _BoundedBuffer:
    """Keeps the head and tail of a stream so a chatty tool cannot exhaust memory."""

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > self._half:
                self.truncated = True
                del self._tail[: len(self._tail) - self._half]

    def value(self) -> bytes:
        if self.truncated:
            marker = b"\n[... output truncated by Stomper ...]\n"
            return bytes(self._head) + marker + bytes(self._tail)
        return bytes(self._head + self._tail)


def _result(
    argv: Sequence[str], returncode: int | None, out: _BoundedBuffer, err: _BoundedBuffer,
    *, timed_out: bool, started: float, stopped: bool = False,
) -> ProcessResult:
    """What a finished process left, however it was run (-1: no exit status was seen)."""
    return ProcessResult(
        argv=tuple(argv),
        returncode=returncode if returncode is not None else -1,
        stdout=out.value(),
        stderr=err.value(),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        truncated=out.truncated or err.truncated,
        stopped=stopped,
    )


async def _drain(
    stream: asyncio.StreamReader | None,
    sink: _BoundedBuffer,
    seen: Callable[[bytes], None] | None = None,
) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        sink.feed(chunk)
        if seen is not None:
            seen(chunk)


_live_groups: set[int] = set()
"""Process groups started by run_process and not yet reaped: what kill_all() ends."""


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _let_leader_reap(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(BaseException):
        await asyncio.shield(asyncio.wait_for(proc.wait(), _KILL_GRACE_S))


def kill_all() -> int:
    """Kill every process group run_process still has running; for a process about to
    leave at once (the language server's `exit`), when waiting for each is not an option."""
    groups = list(_live_groups)
    for pgid in groups:
        _kill_group(pgid)
    return len(groups)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    timeout: float,
    stdin_data: bytes | None = None,
    env: Mapping[str, str] | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    confinement: Confinement | None = None,
    watch: Callable[[bytes], bool] | None = None,
    tee: Callable[[bytes], None] | None = None,
) -> ProcessResult:
    """Run `argv` to completion or until `timeout`; raises OSError if it cannot start.

    `tee` gets every chunk of stdout and stderr as it arrives (an agent's live log).

    `watch` sees stdout as it arrives; once it returns True the whole tree is killed and
    the result says `stopped` (an agent CLI retrying a rejected key for minutes).

    With `confinement` (agents and the test command), the process tree may write only what
    it names, and every process of the tree dies with the leader (see stomper_lsp.confinement).
    """
    started = time.monotonic()
    command: Sequence[str] = argv
    if confinement is not None:
        command, env = confinement.wrap(argv, env, cwd)
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=str(cwd),
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    pgid = proc.pid  # start_new_session makes the child its own group leader
    _live_groups.add(pgid)
    try:
        return await _supervise(
            proc, pgid, argv, started, timeout, stdin_data, output_limit, confinement, watch,
            tee,
        )
    finally:
        _live_groups.discard(pgid)


async def _supervise(
    proc: asyncio.subprocess.Process,
    pgid: int,
    argv: Sequence[str],
    started: float,
    timeout: float,
    stdin_data: bytes | None,
    output_limit: int,
    confinement: Confinement | None,
    watch: Callable[[bytes], bool] | None = None,
    tee: Callable[[bytes], None] | None = None,
) -> ProcessResult:
    out, err = _BoundedBuffer(output_limit), _BoundedBuffer(output_limit)
    stopped = False

    def seen(chunk: bytes) -> None:
        nonlocal stopped
        if tee is not None:
            tee(chunk)
        if not stopped and watch is not None and watch(chunk):
            stopped = True
            _kill_group(pgid)

    watched = seen if watch is not None or tee is not None else None
    readers = [
        asyncio.ensure_future(_drain(proc.stdout, out, watched)),
        asyncio.ensure_future(_drain(proc.stderr, err, tee)),
    ]
    timed_out = False
    try:
        if stdin_data is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin_data)
                await proc.stdin.drain()
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(pgid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), _KILL_GRACE_S)
            except TimeoutError:
                _kill_group(pgid)
                await proc.wait()
    except BaseException:
        # Cancelled (or anything else): the whole group goes, and we wait for the leader
        # so no zombie or orphan outlives the caller. A confined leader (the launcher or
        # bubblewrap) first gets a moment to take down what left the group (setsid).
        if confinement is not None:
            await _let_leader_reap(proc)
        _kill_group(pgid)
        with contextlib.suppress(BaseException):
            await asyncio.shield(proc.wait())
        for reader in readers:
            reader.cancel()
        raise
    # Children that outlive the leader (agents love to daemonize) are killed too; they
    # would otherwise hold our pipes open and keep editing files after we judged them.
    _, pending = await asyncio.wait(readers, timeout=_PIPE_GRACE_S)
    _kill_group(pgid)
    if pending:
        await asyncio.wait(pending, timeout=_PIPE_GRACE_S)
        for reader in pending:
            reader.cancel()
    return _result(argv, proc.returncode, out, err, timed_out=timed_out, started=started,
                   stopped=stopped)


class Dialogue:
    """A tool kept running to answer many small requests (`git cat-file --batch`): a
    process start per request would cost more than the answer. Same rules as
    `run_process`: no shell, its own process group (killed by `close` and `kill_all`),
    stderr discarded, every read bounded by a timeout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pgid = proc.pid

    @classmethod
    async def start(
        cls, argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str] | None = None
    ) -> Dialogue:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            limit=1024 * 1024,
        )
        _live_groups.add(proc.pid)
        return cls(proc)

    @property
    def alive(self) -> bool:
        return self._proc.returncode is None

    async def send(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(data)
        await self._proc.stdin.drain()

    async def readline(self, timeout: float) -> bytes:
        assert self._proc.stdout is not None
        return await asyncio.wait_for(self._proc.stdout.readline(), timeout)

    async def readexactly(self, size: int, timeout: float) -> bytes:
        assert self._proc.stdout is not None
        return await asyncio.wait_for(self._proc.stdout.readexactly(size), timeout)

    def kill(self) -> None:
        """End it now (a reply half read cannot be resynchronized); `close` still reaps."""
        _kill_group(self.pgid)

    async def close(self) -> None:
        _kill_group(self.pgid)
        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.wait_for(self._proc.wait(), _KILL_GRACE_S))
        _live_groups.discard(self.pgid)



class Started:
    """A process started without asyncio's child watcher, possibly ahead of its input.

    For a short tool on a person's critical path (ruff per keystroke). asyncio starts a
    thread per child to wait for it (Python 3.11's ThreadedChildWatcher), and starting
    that thread took 3.8 ms median on the shared machine, blocking the event loop, against
    0.34 ms for the fork and exec themselves. Here the exit is watched through a pidfd on
    the running loop, so `start` is synchronous and cheap. Started before its input is
    known, the process blocks reading stdin with its start-up done; `finish` feeds it and
    collects the result as `run_process` would; `kill` ends it unused. Linux only (pidfd):
    see `supported`. Same rules as `run_process`: no shell, its own process group, known
    to `kill_all`, a hard timeout, the group killed when it ends or is cancelled.
    """

    def __init__(self, proc: subprocess.Popen[bytes], argv: Sequence[str]) -> None:
        self._proc = proc
        self.argv = tuple(argv)
        self.pid = proc.pid
        self._taken = False
        self._reaped = False

    @staticmethod
    @functools.cache
    def supported() -> bool:
        """pidfds: Linux 5.3 and later (elsewhere `run_process` it is)."""
        try:
            os.close(os.pidfd_open(os.getpid()))
        except (AttributeError, OSError):
            return False
        return True

    @classmethod
    def start(
        cls, argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str] | None = None
    ) -> Started:
        """Raises OSError if it cannot start."""
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _live_groups.add(proc.pid)
        return cls(proc, argv)

    @property
    def usable(self) -> bool:
        """Neither fed nor killed, and still waiting for its input."""
        if self._taken or self._reaped:
            return False
        try:  # WNOWAIT: look without reaping, so the group id stays ours until `_reap`
            ended = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return ended is None

    async def finish(
        self, stdin_data: bytes, *, timeout: float, output_limit: int = DEFAULT_OUTPUT_LIMIT
    ) -> ProcessResult:
        """Feed `stdin_data`, close stdin, and collect the result; once only."""
        if self._taken:
            raise RuntimeError("a started process is finished once")
        self._taken = True
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        out, err = _BoundedBuffer(output_limit), _BoundedBuffer(output_limit)
        sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        stdin_fd = proc.stdin.fileno()
        for fd in (stdin_fd, *sinks):
            os.set_blocking(fd, False)
        pidfd = os.pidfd_open(proc.pid)
        done: asyncio.Future[None] = loop.create_future()
        exited = False
        view = memoryview(stdin_data)
        written = 0
        linger: asyncio.TimerHandle | None = None
        waiting_to_write = False

        def settle() -> None:
            if exited and not sinks and not done.done():
                done.set_result(None)

        def read(fd: int) -> None:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if chunk:
                sinks[fd].feed(chunk)
                return
            loop.remove_reader(fd)
            del sinks[fd]
            settle()

        def write() -> None:
            nonlocal written
            try:
                written += os.write(stdin_fd, view[written:])
            except BlockingIOError:
                pass
            except OSError:  # it exited without reading all of it (BrokenPipe)
                written = len(view)
            if written < len(view):
                if not waiting_to_write:
                    wait_to_write(True)
                return
            if waiting_to_write:
                wait_to_write(False)
            assert proc.stdin is not None
            proc.stdin.close()

        def wait_to_write(on: bool) -> None:
            nonlocal waiting_to_write
            waiting_to_write = on
            if on:
                loop.add_writer(stdin_fd, write)
            else:
                loop.remove_writer(stdin_fd)

        def gone() -> None:
            nonlocal exited, linger
            loop.remove_reader(pidfd)
            exited = True
            settle()
            if not done.done():  # something it started holds the pipes open
                linger = loop.call_later(_PIPE_GRACE_S, _kill_group, self.pid)

        for fd in sinks:
            loop.add_reader(fd, read, fd)
        loop.add_reader(pidfd, gone)
        timed_out = False
        try:
            write()
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout)
            except TimeoutError:
                timed_out = True
        finally:
            if linger is not None:
                linger.cancel()
            if waiting_to_write:
                wait_to_write(False)
            self._end(loop, pidfd, sinks)
        return _result(self.argv, proc.returncode, out, err, timed_out=timed_out,
                       started=started)

    def _end(
        self, loop: asyncio.AbstractEventLoop, pidfd: int, sinks: Mapping[int, object]
    ) -> None:
        for fd in (pidfd, *sinks):
            loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(pidfd)
        self._reap()

    def kill(self) -> None:
        """End it unused (or stop it), and reap it: synchronous, a blocked reader dies at
        once on SIGKILL."""
        self._taken = True
        self._reap()

    def _reap(self) -> None:
        """Kill the group (children must not outlive the leader) and wait for the leader;
        once only: after the wait, its pid and group id may belong to someone else."""
        if self._reaped:
            return
        self._reaped = True
        _kill_group(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(_KILL_GRACE_S)
        _live_groups.discard(self.pid)
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
