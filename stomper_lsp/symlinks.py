"""Symbolic links on a path: Stomper never edits, captures or writes a file through one.

A committed `link.py -> /somewhere/else.py`, or a folder link, would make a fix (or its
write-back) land outside the project. Every component is checked with `lstat`, so a link
anywhere on the way counts, not only the last one.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def symlink_on_path(root: Path, relative: str) -> str | None:
    """The first part of `relative` (below `root`) that is a symbolic link, or None.

    Returned as a path relative to `root`, e.g. `pkg` for `pkg/mod.py` when `pkg` is a link.
    Parts that do not exist end the walk: a missing file is not a link.
    """
    current = root
    parts = PurePosixPath(relative).parts
    for index, part in enumerate(parts):
        current = current / part
        try:
            if current.is_symlink():
                return "/".join(parts[: index + 1])
        except OSError:
            return None
        if not current.exists():
            return None
    return None


def link_refusal(root: Path, relative: str) -> str | None:
    """Why `relative` must not be edited or written through, or None when it is safe."""
    link = symlink_on_path(root, relative)
    if link is None:
        return None
    if link == relative:
        return f"{relative} is a symbolic link; Stomper never edits or writes through a link"
    return (
        f"{relative} is inside {link}, a symbolic link; Stomper never edits or writes "
        "through a link"
    )
