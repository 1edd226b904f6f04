"""Keep mypy's incremental cache from answering for a file's previous content.

mypy trusts a cached module when the file's size and *whole-second* mtime match what it
recorded, without hashing it. An editor that saves twice within a second, with the same
size (`x` -> `y`), gets the first save's errors back for the second (measured: the
benchmark's edit-and-save loop hit it on every warm save). mypy has no option to always
hash, so before each run the guard compares the files about to be checked with what the
last run saw; if one changed but still looks the same to mypy, the project's cache is
dropped (one cold run, about a second for 200 modules) instead of trusted.

Every user of a cache directory needs this (the language server's per-project cache, the
fix engine's per-slot caches), so MypyChecker applies it itself, with one guard per cache
directory: its memory outlives the checker objects, which are rebuilt on settings changes.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

_Seen = tuple[int, int, str]  # size, whole-second mtime, content hash


def _look(path: Path) -> _Seen | None:
    try:
        stat = path.stat()
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return stat.st_size, int(stat.st_mtime), digest


class MypyCacheGuard:
    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._seen: dict[str, _Seen] = {}

    def before_run(self, root: Path, paths: Sequence[str]) -> bool:
        """Record what mypy is about to see; True if the cache had to go."""
        stale = False
        for rel in paths:
            now = _look(root / rel)
            before = self._seen.get(rel)
            if now is None:
                self._seen.pop(rel, None)
                continue
            if before is not None and before[:2] == now[:2] and before[2] != now[2]:
                stale = True
            self._seen[rel] = now
        if stale:
            logger.info("mypy cache dropped: a file changed within the same second")
            shutil.rmtree(self._cache_dir, ignore_errors=True)
        return stale


_GUARDS: dict[Path, MypyCacheGuard] = {}


def guard_for(cache_dir: Path) -> MypyCacheGuard:
    """The guard of `cache_dir`, shared by every checker that uses that cache."""
    guard = _GUARDS.get(cache_dir)
    if guard is None:
        guard = _GUARDS[cache_dir] = MypyCacheGuard(cache_dir)
    return guard
