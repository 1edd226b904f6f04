"""Three fixes to LangGraph 1.2 that a wide fan-out needs, applied where the graph is built.

Each module patches one thing and leaves a LangGraph without it (a later release) alone.
"""

from __future__ import annotations

from stomper_lsp.workflow.langgraph_fixes import closing_gate, completion_feed, pending_writes


def apply() -> None:
    """Idempotent."""
    closing_gate.apply()
    completion_feed.apply()
    pending_writes.apply()
