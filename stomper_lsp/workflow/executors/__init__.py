"""Where each file's body runs: on this machine (`local`) or as Ray tasks (`ray`).

LangGraph stays the orchestrator either way: one `Send` per file, `max_concurrency` as the
global bound, the merge on the coordinator. An executor only answers "run this file's
verified-fix body somewhere and give me its plain-data result".
"""

from __future__ import annotations

from stomper_lsp.workflow.executors.base import Executor, FixExecution
from stomper_lsp.workflow.executors.choice import EXECUTOR_NAMES, open_executor

__all__ = ["EXECUTOR_NAMES", "Executor", "FixExecution", "open_executor"]
