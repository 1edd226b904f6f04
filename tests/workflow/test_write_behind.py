"""The run's writer thread and the outcome store's batched saves."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from stomper_lsp.workflow.outcome_store import OutcomeStore
from stomper_lsp.workflow.report import FileOutcome, FileStatus
from stomper_lsp.workflow.write_behind import WriteBehind


async def test_jobs_run_in_order_off_the_loop_and_close_waits_for_them() -> None:
    writes = WriteBehind()
    done: list[int] = []
    threads: set[str] = set()

    def job(k: int) -> None:
        time.sleep(0.002)
        threads.add(threading.current_thread().name)
        done.append(k)

    for k in range(20):
        writes.submit(lambda k=k: job(k))  # type: ignore[misc]
    await writes.close()
    assert done == list(range(20))
    assert threads == {"stomper-writes"}
    assert "stomper-writes" not in {t.name for t in threading.enumerate()}


async def test_a_failing_job_does_not_stop_the_ones_after_it() -> None:
    writes = WriteBehind()
    done: list[str] = []

    def fails() -> None:
        raise OSError("disk full")

    writes.submit(fails)
    writes.submit(lambda: done.append("after"))
    await writes.close()
    assert done == ["after"]


async def test_a_closed_writer_starts_again_on_the_next_job() -> None:
    writes = WriteBehind()
    done: list[int] = []
    writes.submit(lambda: done.append(1))
    await writes.close()
    writes.submit(lambda: done.append(2))
    await writes.close()
    assert done == [1, 2]


async def test_outcomes_saved_while_a_commit_runs_share_the_next_one(tmp_path: Path) -> None:
    store = OutcomeStore(tmp_path / "outcomes.sqlite3")
    writes = WriteBehind()
    gate = threading.Event()

    def busy() -> None:  # the writer is busy while the files below finish
        gate.wait()

    writes.submit(busy)
    commits: list[int] = []
    save_many = store._run_many

    def counted(sql: str, rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        commits.append(len(rows))
        return save_many(sql, rows)

    store._run_many = counted  # type: ignore[method-assign]
    for i in range(5):
        outcome = FileOutcome(
            path=f"m{i}.py", status=FileStatus.FIXED, issues_before=1, issues_after=0
        )
        store.save_soon(writes, "key", outcome, {f"m{i}.py": f"x = {i}\n"})
    gate.set()
    await writes.close()
    assert commits == [5]
    stored = await store.load("key")
    assert sorted(stored) == [f"m{i}.py" for i in range(5)]
    assert stored["m3.py"].texts == {"m3.py": "x = 3\n"}
    assert stored["m3.py"].outcome.status is FileStatus.FIXED
    await store.close()
