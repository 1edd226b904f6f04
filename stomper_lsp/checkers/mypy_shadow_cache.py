"""Keep mypy's incremental cache honest about unsaved buffers.

mypy decides a cached module is fresh from the size and mtime of the file on *disk*, even
when `--shadow-file` gives it other text: a same-size edit of a buffer would get the
saved file's results. So the cache entries of every module whose buffer differs from
disk are dropped before the run (mypy re-analyses it from the shadow) and after it (the
cache never keeps results of text that is not on disk).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

_SUFFIXES = (".meta.ff", ".meta_ex.ff", ".data.ff", ".meta.json", ".data.json")


def _candidates(rel: str) -> set[str]:
    """Cache stems the module may be stored under: every tail of its path (a src layout
    or a namespace root changes where the module name starts; dropping too much only
    costs a re-check)."""
    parts = PurePosixPath(rel).with_suffix("").parts
    return {"/".join(parts[i:]) for i in range(len(parts))}


def dirty_paths(root: Path, overlays: dict[str, str]) -> list[str]:
    dirty = []
    for rel, text in overlays.items():
        try:
            saved = (root / rel).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            saved = None
        if saved != text:
            dirty.append(rel)
    return dirty


def forget(cache_dir: Path, rel_paths: Iterable[str]) -> None:
    stems = set().union(*(_candidates(p) for p in rel_paths))
    if not stems or not cache_dir.is_dir():
        return
    names = [stem + suffix for stem in stems for suffix in _SUFFIXES]
    for version in cache_dir.iterdir():
        if not version.is_dir():
            continue
        for db in version.glob("cache*.db"):
            with contextlib.suppress(sqlite3.Error), contextlib.closing(
                sqlite3.connect(db, timeout=5)
            ) as conn, conn:
                conn.executemany("DELETE FROM files2 WHERE path = ?", [(n,) for n in names])
        for name in names:  # the plain-file cache (`sqlite_cache = false`)
            with contextlib.suppress(OSError):
                (version / name).unlink()
