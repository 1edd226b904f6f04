"""Neovim with a screen: `nvim --embed` and a minimal UI attached over msgpack-RPC.

`--headless` has no screen, so it never stops at "Press ENTER"; a user's Neovim does
whenever the messages shown at once do not fit the command line. Attached as an
80x24 UI, the test sees what a user sees: `nvim_get_mode()` answers
`{"mode": "r", "blocking": true}` while a hit-enter prompt waits. Each one is counted
and answered with <CR>, so the scenario still runs to its end.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from queue import Empty, Queue
from typing import IO, Any

import pytest

try:
    import msgpack
except ImportError:  # the test extra installs it
    msgpack = None

COLUMNS = 80
LINES = 24
_REQUEST, _RESPONSE = 0, 1


class _Rpc:
    """Requests to Neovim over its stdin/stdout; notifications (redraws) are dropped."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._stdin: IO[bytes] = proc.stdin
        self._ids = itertools.count(1)
        self._answers: dict[int, Queue[tuple[Any, Any]]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        unpacker = msgpack.Unpacker(raw=False)
        while chunk := stdout.read1(65536):  # type: ignore[attr-defined]
            unpacker.feed(chunk)
            for message in unpacker:
                if message[0] == _RESPONSE:
                    _, msgid, error, result = message
                    with self._lock:
                        answer = self._answers.pop(msgid, None)
                    if answer is not None:
                        answer.put((error, result))
                elif message[0] == _REQUEST:  # Neovim asks the UI nothing we answer
                    self._send([_RESPONSE, message[1], "not supported", None])

    def _send(self, message: list[Any]) -> None:
        with self._lock:
            self._stdin.write(msgpack.packb(message))
            self._stdin.flush()

    def request(self, method: str, *args: Any, timeout: float = 10) -> Any:
        msgid = next(self._ids)
        answer: Queue[tuple[Any, Any]] = Queue()
        with self._lock:
            self._answers[msgid] = answer
        self._send([_REQUEST, msgid, method, list(args)])
        error, result = answer.get(timeout=timeout)
        if error:
            raise RuntimeError(f"{method}: {error}")
        return result


def run_with_screen(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> int:
    """Run `nvim --embed ARGV...` with a UI attached until it exits; returns how many
    hit-enter prompts it stopped at (each answered with <CR>)."""
    if msgpack is None:
        pytest.skip("msgpack is not installed (pip install -e '.[test]')")
    proc = subprocess.Popen(
        [argv[0], "--embed", *argv[1:]], cwd=cwd, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    prompts = 0
    try:
        rpc = _Rpc(proc)
        rpc.request("nvim_ui_attach", COLUMNS, LINES, {"ext_linegrid": True, "rgb": True})
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                mode = rpc.request("nvim_get_mode", timeout=2)
            except (Empty, OSError, ValueError):
                break  # exiting
            if str(mode.get("mode", "")).startswith("r") and mode.get("blocking"):
                prompts += 1
                rpc.request("nvim_input", "<CR>")
            time.sleep(0.05)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return prompts
