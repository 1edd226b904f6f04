"""Fan-out width, the single merge lock, 3-way merges of shared files, cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, ProgressEvent
from tests.conftest import UNCONFINED_MACHINE
from tests.processes import wait_dead
from tests.workflow.repos import BROKEN, FIX_BOTH, fake, load, user_state, worktrees


@pytest.mark.slow
@pytest.mark.skipif(UNCONFINED_MACHINE, reason="unconfined agents run one at a time")
@pytest.mark.parametrize("k", [1, 2, 4])
async def test_peak_concurrency_equals_min_of_k_and_files(make_repo: Any, k: int) -> None:
    root = make_repo({f"m{i}.py": BROKEN for i in range(3)})
    events: list[ProgressEvent] = []
    report = await run_fix(
        load(root, agent="command", agent_command=fake("--sleep", "0.6", *FIX_BOTH),
             max_parallel_files=k),
        on_progress=events.append,
    )
    assert report.peak_concurrent_files == min(k, 3)
    assert report.peak_concurrent_merges == 1
    assert [o.status for o in report.files] == [FileStatus.FIXED] * 3
    assert max(e.running for e in events) == min(k, 3)
    assert events[-1].done == events[-1].total == 3


class SharedFileAgent:
    """Fixes its target and also edits `shared.py` at the line named after the target."""

    name = "shared-editor"

    def __init__(self, edits: dict[str, tuple[str, str]]) -> None:
        self.edits = edits

    async def fix(self, task: AgentTask) -> AgentResult:
        target = task.workdir / task.target
        target.write_text(target.read_text().replace("import os\n\n\n", "").replace(
            "== None", "is None"))
        await asyncio.sleep(0.2)
        shared = task.workdir / "shared.py"
        old, new = self.edits[task.target]
        shared.write_text(shared.read_text().replace(old, new))
        return AgentResult(exit_code=0, timed_out=False, summary="edited")


SHARED = "A = 1\n\n\nB = 2\n\n\nC = 3\n\n\nD = 4\n"


async def test_agents_editing_a_shared_file_in_different_places_both_land(
    make_repo: Any,
) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN, "shared.py": SHARED})
    agent = SharedFileAgent({"a.py": ("A = 1", "A = 10"), "b.py": ("D = 4", "D = 40")})
    report = await run_fix(load(root, max_parallel_files=2), agent=agent)
    assert [o.status for o in report.files] == [FileStatus.FIXED, FileStatus.FIXED]
    shared = {c.path: c.new_text for c in report.changes}["shared.py"]
    assert shared == SHARED.replace("A = 1", "A = 10").replace("D = 4", "D = 40")
    assert report.peak_concurrent_merges == 1


async def test_overlapping_edits_make_the_later_one_a_conflict(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN, "shared.py": SHARED})
    agent = SharedFileAgent({"a.py": ("B = 2", "B = 20"), "b.py": ("B = 2", "B = 200")})
    report = await run_fix(load(root, max_parallel_files=2), agent=agent)
    statuses = sorted(o.status.value for o in report.files)
    assert statuses == ["conflict", "fixed"]
    conflict = next(o for o in report.files if o.status == FileStatus.CONFLICT)
    changes = {c.path: c.new_text for c in report.changes}
    # Nothing of the conflicting result is half-applied: not even its own target.
    assert conflict.path not in changes
    assert changes["shared.py"] in (SHARED.replace("B = 2", "B = 20"),
                                    SHARED.replace("B = 2", "B = 200"))
    assert report.issues_after == conflict.issues_before



@pytest.mark.slow
# LangGraph drops the queued branches' coroutines unstarted on cancel: exactly what we want.
@pytest.mark.filterwarnings("ignore:coroutine 'arun_with_retry' was never awaited")
async def test_cancel_mid_run_leaves_no_worktree_process_or_change(
    make_repo: Any, tmp_path: Path, agent_out: Path, real_pids: None, sandbox_base: Path
) -> None:
    root = make_repo({f"m{i}.py": BROKEN for i in range(4)})
    before = user_state(root)
    pids = agent_out / "pids"
    started = asyncio.Event()

    def on_progress(event: ProgressEvent) -> None:
        if event.kind == "attempt":
            started.set()

    project = load(root, agent="command", max_parallel_files=2, agent_timeout=300,
                   agent_command=fake("--hang", "--pid-dir", str(pids)))
    task = asyncio.create_task(run_fix(project, on_progress=on_progress))
    await asyncio.wait_for(started.wait(), 30)
    for _ in range(100):  # the agent writes its pid files right after starting
        if (pids / "child.pid").exists():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    agent_pid, child_pid = (int((pids / n).read_text()) for n in ("agent.pid", "child.pid"))
    assert wait_dead(agent_pid) and wait_dead(child_pid)
    assert len(worktrees(root)) == 1
    assert [p for p in sandbox_base.rglob("*") if p.is_dir() and "slot" in p.name] == []
    assert user_state(root) == before
