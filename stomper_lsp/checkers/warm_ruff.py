"""The next keystroke's ruff, started before the keystroke.

Linting unsaved text runs one ruff per keystroke, and starting it was the largest part of
what separated Stomper's edit-to-diagnostics time from `ruff server`'s, which lints in
memory: asyncio's per-child watcher thread (3.8 ms median to start on the shared
machine, blocking the event loop), the fork and exec, and ruff's own start-up (reading
its settings, about 2 ms). So each keystroke's ruff is started without asyncio
(`process.Started`), and once a keystroke's run is over, the same command is started
again, `AHEAD_AFTER_S` later (after that keystroke's diagnostics are out: the start would
delay them), and left blocked on stdin with its start-up done: the next keystroke of
that file only writes its text.

ruff reads its settings when it starts, before stdin, so a started process is used only
while everything it read is unchanged: the ruff binary, and every settings file ruff
could read for that file (`pyproject.toml`, `ruff.toml`, `.ruff.toml` in each folder up
to the root and in ruff's user config folder, and the files their `extend` names), by
inode, size and mtime, taken just before it started. Otherwise, and after `IDLE_S`
unused, it is killed. The language server enables this for its projects' ruff checkers
(checkers/ruff.py `start_ahead`) and closes it when a project is dropped (settings
changed), a document closes, or the server shuts down; the fix engine and the CLI run
ruff as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path

from stomper_lsp.process import ProcessResult, Started

logger = logging.getLogger(__name__)

AHEAD_AFTER_S = 0.01
"""After a run, wait this long before starting the next keystroke's ruff."""
IDLE_S = 30.0
"""A started ruff left unused this long is killed (it holds about 12 MB)."""
_SETTINGS_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
_EXTEND_DEPTH = 8
_FileStamp = tuple[int, int, int] | None
Stamp = tuple[tuple[str, _FileStamp], ...]
_Key = tuple[tuple[str, ...], str]
_extends: dict[tuple[str, _FileStamp], str | None] = {}
"""A settings file's `extend`, by path and stamp: parsed again only when it changes."""


def _user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "ruff"


def _stat(path: Path) -> _FileStamp:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


def _extend(path: Path, stamp: _FileStamp) -> str | None:
    key = (str(path), stamp)
    if key not in _extends:
        value: object = None
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            section = data
            if path.name == "pyproject.toml":
                section = data.get("tool", {}).get("ruff", {})
            value = section.get("extend") if isinstance(section, dict) else None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
            value = None
        if len(_extends) > 256:
            _extends.clear()
        _extends[key] = value if isinstance(value, str) else None
    return _extends[key]


def settings_stamp(file: Path, binary: str) -> Stamp:
    """What a ruff started for `file` reads before its input, as (inode, size, mtime) or
    None each: equal stamps, same settings."""
    stamp: list[tuple[str, _FileStamp]] = [(binary, _stat(Path(binary)))]
    pending = [folder / name for folder in (*file.parents, _user_config_dir())
               for name in _SETTINGS_NAMES]
    extended = 0
    for path in pending:
        found = _stat(path)
        stamp.append((str(path), found))
        extend = _extend(path, found) if found is not None else None
        if extend and extended < _EXTEND_DEPTH:  # ruff expands `~` and variables in it
            extended += 1
            pending.append(path.parent / os.path.expandvars(os.path.expanduser(extend)))
    return tuple(stamp)


class WarmStart:
    """At most one started ruff, for the command of the last keystroke."""

    def __init__(self) -> None:
        self._ready: Started | None = None
        self._key: _Key | None = None
        self._stamp: Stamp = ()
        self._timer: asyncio.TimerHandle | None = None
        """The start of the next one, pending, or once it runs, its idle expiry."""
        self._closed = False

    @property
    def waiting(self) -> Started | None:
        """The started ruff waiting for the next keystroke, if any."""
        return self._ready

    async def run(
        self, argv: Sequence[str], *, cwd: Path, file: Path, stdin_data: bytes, timeout: float
    ) -> ProcessResult:
        """ruff's result for `stdin_data`; raises OSError if it cannot start."""
        key = (tuple(argv), str(cwd))
        started = self._take(key, file)
        if started is None:
            started = Started.start(argv, cwd=cwd)
        result = await started.finish(stdin_data, timeout=timeout)
        if not self._closed:
            self._cancel_timer()
            self._key = key
            self._timer = asyncio.get_running_loop().call_later(
                AHEAD_AFTER_S, self._start_ahead, key, file
            )
        return result

    def _take(self, key: _Key, file: Path) -> Started | None:
        self._cancel_timer()
        ready, self._ready = self._ready, None
        if ready is None:
            return None
        if (
            self._key == key
            and self._stamp == settings_stamp(file, key[0][0])
            and ready.usable
        ):
            return ready
        ready.kill()
        return None

    def _start_ahead(self, key: _Key, file: Path) -> None:
        self._timer = None
        if self._closed:
            return
        if self._ready is not None:
            self._ready.kill()
            self._ready = None
        stamp = settings_stamp(file, key[0][0])  # before it reads them: a later change shows
        try:
            started = Started.start(key[0], cwd=key[1])
        except OSError as exc:  # the next keystroke starts its own and reports it
            logger.debug("could not start ruff ahead: %s", exc)
            return
        self._ready, self._key, self._stamp = started, key, stamp
        self._timer = asyncio.get_running_loop().call_later(IDLE_S, self.discard)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def discard(self, file: Path | None = None) -> None:
        """Kill the started ruff, or stop the pending start (only if for `file`, when
        given); synchronous, the process is reaped."""
        if file is not None and (self._key is None or str(file) not in self._key[0]):
            return
        self._cancel_timer()
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.kill()

    def close(self) -> None:
        """Kill the started ruff, and start no other."""
        self._closed = True
        self.discard()
