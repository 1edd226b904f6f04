"""Record a finished branch's writes in O(its writes), not O(every write of the step).

`PregelLoop.put_writes` first drops the task's earlier writes from the step's pending
writes by rebuilding the whole list, even for a task that never wrote before (every `Send`
branch, once). All branches of a fan-out are one step, so a run's cost grows with the
square of its files: at 10,000 files the rebuild scans ~30,000 entries per finished file.

A task that has not written in this step has nothing to drop, provided nothing was loaded
from a checkpoint (an interrupted task's earlier writes are): without a checkpointer,
LangGraph's own method runs on an empty list and its result is appended to the real one.
"""

from __future__ import annotations

from typing import Any

from langgraph.pregel import _loop

_PATCHED = "_stomper_pending_writes"


def apply() -> None:
    """Idempotent; a loop without the attributes this relies on is left alone."""
    loop_class: Any = _loop.PregelLoop
    original = loop_class.put_writes
    if getattr(original, _PATCHED, False):
        return
    null_task = getattr(_loop, "NULL_TASK_ID", None)
    if null_task is None or "_written_task_ids" not in loop_class.__annotations__:
        return

    def put_writes(self: Any, task_id: str, writes: Any, *, cached: bool = False) -> None:
        first_writes = (
            writes
            and self.checkpointer is None
            and task_id != null_task
            and task_id not in self._written_task_ids
        )
        if not first_writes:
            return original(self, task_id, writes, cached=cached)  # type: ignore[no-any-return]
        earlier = self.checkpoint_pending_writes
        self.checkpoint_pending_writes = []
        try:
            original(self, task_id, writes, cached=cached)
        finally:
            earlier.extend(self.checkpoint_pending_writes)
            self.checkpoint_pending_writes = earlier

    setattr(put_writes, _PATCHED, True)
    loop_class.put_writes = put_writes
