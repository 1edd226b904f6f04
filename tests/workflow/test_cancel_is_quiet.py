"""Cancelling a run whose files wait for a slot leaves no never-awaited coroutine behind
(LangGraph dropped them unstarted; Neovim showed the warning after every cancel)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

from stomper_lsp.workflow.engine import run_fix
from tests.workflow.repos import BROKEN, fake, load


async def test_cancel_with_queued_files_warns_nothing(make_repo: Any) -> None:
    root = make_repo({f"m{i}.py": BROKEN for i in range(4)})
    project = load(root, agent="command", agent_command=fake("--sleep", "30"),
                   max_parallel_files=1, max_attempts=1)
    started = asyncio.Event()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = asyncio.ensure_future(
            run_fix(project, on_progress=lambda e: started.set() if e.kind == "attempt" else None)
        )
        await asyncio.wait_for(started.wait(), 30)
        run.cancel()
        await asyncio.wait([run])
        gc.collect()
        await asyncio.sleep(0)
        gc.collect()
    unawaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert run.cancelled()
    assert not unawaited, unawaited
