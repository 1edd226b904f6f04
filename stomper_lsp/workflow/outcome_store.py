"""Durable per-file outcomes, so an interrupted fix run resumes without redoing finished files.

LangGraph's checkpointer cannot do this (design.md: a finished branch's checkpoint write queues
behind the `max_concurrency` semaphore, so a killed run loses most finished files). Each file's
outcome and its verified texts are written here the moment the file finishes, keyed by the
snapshot's *tree* (a re-made snapshot of unchanged files has a new commit but the same tree),
the project path and the settings that shape a fix. SQLite in the user's state folder.

WAL with `synchronous=NORMAL`: a killed process loses nothing committed; a power cut may
lose the last commits (those files run again on `--resume`), never the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.config.model import StomperConfig
from stomper_lsp.sandbox.git import run_git_dir
from stomper_lsp.sandbox.snapshot import Snapshot
from stomper_lsp.user_dirs import user_path
from stomper_lsp.workflow.report import FileOutcome
from stomper_lsp.workflow.write_behind import WriteBehind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    run_key TEXT NOT NULL, path TEXT NOT NULL, outcome TEXT NOT NULL, texts TEXT NOT NULL,
    finished REAL NOT NULL, PRIMARY KEY (run_key, path));
CREATE TABLE IF NOT EXISTS open_fix_alls (root TEXT PRIMARY KEY, started REAL NOT NULL);
"""
# Settings that do not change what a file's fix is (only how fast or where it runs).
_NOT_SHAPING = frozenset({"max_parallel_files", "executor", "ray_address"})
_KEEP_S = 14 * 24 * 3600
_SAVE = (
    "INSERT OR REPLACE INTO outcomes (run_key, path, outcome, texts, finished) "
    "VALUES (?, ?, ?, ?, ?)"
)
_log = logging.getLogger(__name__)


def store_path() -> Path:
    return user_path("cache", "outcomes.sqlite3", override="STOMPER_OUTCOME_DB")


def settings_key(config: StomperConfig) -> str:
    """A digest of the settings that shape a fix (agent, attempts, checkers, tests...)."""
    shaping = {k: v for k, v in config.model_dump(mode="json").items() if k not in _NOT_SHAPING}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]


async def run_key(snapshot: Snapshot, config: StomperConfig) -> str:
    """Snapshot tree + project prefix + shaping settings: equal exactly when a stored
    outcome is still the outcome this run would compute."""
    result = await run_git_dir(snapshot.shadow_dir, ["rev-parse", f"{snapshot.commit}^{{tree}}"])
    tree = result.stdout_text.strip()
    raw = f"{tree}\0{snapshot.project_prefix}\0{settings_key(config)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class StoredFile:
    outcome: FileOutcome
    texts: dict[str, str]
    """The verified texts this outcome merged (empty when nothing was applied)."""


class OutcomeStore:
    """One SQLite file; every call is short and runs off the event loop.

    One connection for the store's life (opening one per saved file cost 0.7 ms of the
    coordinator's CPU per file), used by one thread at a time; each write commits.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._unsaved: list[tuple[str, FileOutcome, dict[str, str], float]] = []
        self._unsaved_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """A store that cannot be written (read-only cache, full disk) costs only resume."""
        return self._run_many(sql, [params])

    def _run_many(self, sql: str, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        """`sql` once per row, in one transaction; the rows of the last one."""
        with self._lock:
            try:
                db = self._connect()
                found: list[tuple[object, ...]] = []
                with db:
                    for params in rows:
                        found = list(db.execute(sql, params))
                return found
            except (sqlite3.Error, OSError) as exc:
                _log.warning("outcome store %s unusable (%s): this run cannot be resumed",
                             self.path, exc)
                self._close()
                return []

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def close(self) -> None:
        """Ends the connection (a later call opens a new one)."""

        def closing() -> None:
            with self._lock:
                self._close()

        await asyncio.to_thread(closing)

    async def prune(self) -> None:
        """Outcomes older than two weeks are never resumed: drop them."""
        await asyncio.to_thread(
            self._run, "DELETE FROM outcomes WHERE finished < ?", time.time() - _KEEP_S
        )

    def save_soon(
        self, writes: WriteBehind, key: str, outcome: FileOutcome, texts: dict[str, str]
    ) -> None:
        """Store a finished file's outcome on the writer thread; outcomes that finish while
        one commit is under way share the next one."""
        with self._unsaved_lock:
            first = not self._unsaved
            self._unsaved.append((key, outcome, texts, time.time()))
        if first:
            writes.submit(self._save_unsaved)

    def _save_unsaved(self) -> None:
        with self._unsaved_lock:
            unsaved, self._unsaved = self._unsaved, []
        self._run_many(_SAVE, [
            (key, outcome.path, outcome.model_dump_json(), json.dumps(texts), finished)
            for key, outcome, texts, finished in unsaved
        ])

    async def fix_all_started(self, root: Path) -> None:
        """A language server's fix-all of `root` began: until `fix_all_ended`, a restarted
        server offers to resume it (the server was killed, or the editor closed)."""
        await asyncio.to_thread(
            self._run, "INSERT OR REPLACE INTO open_fix_alls (root, started) VALUES (?, ?)",
            str(root), time.time(),
        )

    async def fix_all_ended(self, root: Path) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM open_fix_alls WHERE root = ?", str(root))

    async def interrupted_fix_all(self, root: Path) -> float | None:
        """When an unfinished fix-all of `root` started (None: there is none to resume)."""
        rows = await asyncio.to_thread(
            self._run, "SELECT started FROM open_fix_alls WHERE root = ? AND started > ?",
            str(root), time.time() - _KEEP_S,
        )
        return float(str(rows[0][0])) if rows else None

    async def load(self, key: str) -> dict[str, StoredFile]:
        rows = await asyncio.to_thread(
            self._run, "SELECT path, outcome, texts FROM outcomes WHERE run_key = ?", key
        )
        return {
            str(path): StoredFile(
                FileOutcome.model_validate_json(str(outcome)), json.loads(str(texts))
            )
            for path, outcome, texts in rows
        }
