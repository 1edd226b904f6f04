"""Log folders: a live run's are never pruned, ended ones only when old (issue 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from stomper_lsp.workflow.run_logs import LOCK_NAME, RunLogDir, prune_run_logs

WEEK = 7 * 24 * 3600


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def test_only_old_ended_runs_are_pruned(tmp_path: Path) -> None:
    with RunLogDir(tmp_path, "live") as live:
        (live.path / "a.log").write_text("attempt 1")
        _age(live.path, 2 * WEEK)
        ended_old = tmp_path / "ended-old"
        ended_new = tmp_path / "ended-new"
        for folder in (ended_old, ended_new):
            with RunLogDir(tmp_path, folder.name):
                pass
        _age(ended_old, 2 * WEEK)

        removed = prune_run_logs(tmp_path)

        assert removed == [ended_old]
        assert (live.path / "a.log").exists() and ended_new.exists()
    assert prune_run_logs(tmp_path) == [live.path]  # ended now, and old


def test_a_run_in_another_process_is_never_pruned(tmp_path: Path) -> None:
    """Another Stomper process holds its lock: its folder stays whatever its age."""
    folder = tmp_path / "other"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from stomper_lsp.workflow.run_logs import RunLogDir\n"
         f"with RunLogDir(Path({str(tmp_path)!r}), 'other'):\n"
         "    print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        _age(folder, 2 * WEEK)
        assert prune_run_logs(tmp_path) == []
        assert (folder / LOCK_NAME).exists()
    finally:
        holder.kill()
        holder.wait()
    assert prune_run_logs(tmp_path) == [folder]  # it died: its lock is free
