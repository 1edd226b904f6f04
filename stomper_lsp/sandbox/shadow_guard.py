"""Keep the shadow repository's settings Stomper's own, whatever an agent does to them.

Agents run git in their sandbox, and every sandbox is a worktree of the shadow: an agent's
`git config filter.x.clean ...`, a hook, an `info/attributes` line or a new alternates
entry lands in the shadow and would make Stomper's *own* git (status, checkout, diff) run
the agent's program, outside the agent's timeout and confinement. So the files that decide
what git runs or reads are recorded when the shadow is opened and put back before every git
command Stomper runs against the shadow or one of its worktrees. Hooks are never kept.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from stomper_lsp.sandbox.layout import TEMPORARY_PREFIX, remove_tree, replace_file

# Relative to the shadow: every file git reads settings, attributes, ignore rules, sparse
# patterns or borrowed objects from, in a bare repository and its worktrees' common dir.
GUARDED_FILES = (
    "config",
    "config.worktree",
    "info/attributes",
    "info/exclude",
    "info/sparse-checkout",
    "info/grafts",
    "shallow",
    "commondir",
    "objects/info/alternates",
    "objects/info/http-alternates",
)
_FOLDERS_WITHOUT_EXTRAS = ("hooks", "info")

_lock = threading.Lock()
_expected: dict[Path, dict[str, bytes | None]] = {}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def remember(shadow: Path) -> None:
    """Record the shadow's guarded files as they are now (right after Stomper set them)."""
    state = {name: _read(shadow / name) for name in GUARDED_FILES}
    with _lock:
        _expected[shadow] = state
    restore(shadow)  # a shadow made by an older Stomper may still have hooks


def expected_state(shadow: Path) -> Mapping[str, bytes | None] | None:
    with _lock:
        return _expected.get(shadow)


def restore(shadow: Path) -> list[str]:
    """Put back every guarded file that differs and drop hooks and unknown `info/` files.

    Returns what had to be repaired (empty when nothing was touched). A shadow this process
    never opened is left alone: it has no recorded state to compare with.
    """
    expected = expected_state(shadow)
    if expected is None:
        return []
    repaired: list[str] = []
    for name, wanted in expected.items():
        path = shadow / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            remove_tree(path)
            repaired.append(name)
        current = _read(path)
        if current == wanted:
            continue
        repaired.append(name)
        if wanted is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            replace_file(path, wanted)
    for folder in _FOLDERS_WITHOUT_EXTRAS:
        repaired.extend(_drop_extras(shadow, folder, expected))
    return sorted(set(repaired))


def _drop_extras(shadow: Path, folder: str, expected: Mapping[str, bytes | None]) -> list[str]:
    base = shadow / folder
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return []
    dropped: list[str] = []
    for entry in entries:
        name = f"{folder}/{entry.name}"
        if expected.get(name) is not None or _in_flight(entry):
            continue
        remove_tree(Path(entry.path))
        dropped.append(name)
    return dropped


def _in_flight(entry: os.DirEntry[str]) -> bool:
    """Another task's `replace_file` between its write and its rename (git reads no such
    name, so sparing it for a minute opens nothing; an older one is a crash's leftover)."""
    if not entry.name.startswith(TEMPORARY_PREFIX):
        return False
    try:
        return entry.is_file(follow_symlinks=False) and (
            time.time() - entry.stat(follow_symlinks=False).st_mtime < 60
        )
    except FileNotFoundError:
        return False


def shadow_of(git_dir: Path) -> Path | None:
    """The shadow a git dir belongs to: itself, or `<shadow>/worktrees/<name>`."""
    if git_dir in _known():
        return git_dir
    if git_dir.parent.name == "worktrees" and git_dir.parent.parent in _known():
        return git_dir.parent.parent
    return None


def _known() -> set[Path]:
    with _lock:
        return set(_expected)
