"""The fix engine: a LangGraph run that fans files out with Send() and merges under one lock.

Import `run_fix` from `stomper_lsp.workflow.engine`; this package import stays light so the
language server can start without loading LangGraph.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """`from stomper_lsp.workflow import StomperWorkflow` without loading LangGraph eagerly."""
    if name == "StomperWorkflow":
        from stomper_lsp.workflow.compat import StomperWorkflow

        return StomperWorkflow
    raise AttributeError(name)
