"""`StomperWorkflow`: the Python API existing Stomper scripts use, on top of `run_fix`.

    workflow = StomperWorkflow(root, max_parallel_files=2, use_sandbox=True, run_tests=False)
    workflow.register_agent("mine", MyAgent())   # any object with `async def fix(task)`
    final_state = await workflow.run({"enabled_tools": ["ruff"]})
    final_state["successful_fixes"], final_state["failed_fixes"], final_state["status"]
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.delivery.working_tree import deliver_to_working_tree
from stomper_lsp.project import Project
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, RunStatus


class _FixesFiles(Protocol):
    async def fix(self, task: AgentTask) -> Any: ...


class _RegisteredAgent:
    """Adapts a script's agent: whatever its fix() returns, the checkers are the judge."""

    def __init__(self, name: str, agent: _FixesFiles) -> None:
        self.name = name
        self._agent = agent

    async def fix(self, task: AgentTask) -> AgentResult:
        result = await self._agent.fix(task)
        if isinstance(result, AgentResult):
            return result
        return AgentResult(exit_code=0, timed_out=False, summary=f"{self.name} returned")


_RUN_KEYS = {
    "enabled_tools": "tools",
    "tools": "tools",
    "max_parallel_files": "max_parallel_files",
    "max_attempts": "max_attempts",
    "agent_timeout": "agent_timeout",
    "test_command": "test_command",
    "select": "select",
    "ignore": "ignore",
}


class StomperWorkflow:
    def __init__(
        self,
        project_root: str | Path,
        max_parallel_files: int = 4,
        use_sandbox: bool = True,
        run_tests: bool = False,
    ) -> None:
        if not use_sandbox:
            warnings.warn(
                "use_sandbox=False is ignored: Stomper always fixes in git worktrees so your "
                "files are never edited mid-run.",
                stacklevel=2,
            )
        self.project_root = Path(project_root)
        self.max_parallel_files = max_parallel_files
        self.run_tests = run_tests
        self.agents: dict[str, _RegisteredAgent] = {}

    def register_agent(self, name: str, agent: _FixesFiles) -> None:
        self.agents[name] = _RegisteredAgent(name, agent)

    async def run(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        config = dict(config or {})
        overrides: dict[str, Any] = {"max_parallel_files": self.max_parallel_files}
        for key, target in _RUN_KEYS.items():
            if key in config:
                overrides[target] = config[key]
        project = Project.load(self.project_root, overrides=overrides, trusted=True)
        if self.run_tests and not project.config.test_command:
            python = project.environment.project_python() or sys.executable
            overrides["test_command"] = [python, "-m", "pytest", "-q", "-x"]
            project = Project.load(self.project_root, overrides=overrides, trusted=True)
        agent_name = config.get("agent_name") or config.get("agent")
        agent = self.agents.get(agent_name) if agent_name else None
        if agent is None and len(self.agents) == 1 and not agent_name:
            agent = next(iter(self.agents.values()))
        report = await run_fix(project, paths=config.get("paths"), agent=agent)
        delivered = None
        if report.changes and not config.get("dry_run"):
            delivered = await deliver_to_working_tree(project.root, report.changes)
        conflicts = set(delivered.conflicts) if delivered else set()
        fixed = {FileStatus.FIXED, FileStatus.PARTIAL}
        return {
            "status": "completed" if report.status == RunStatus.COMPLETED else "failed",
            "successful_fixes": [
                o.path for o in report.files if o.status in fixed and o.path not in conflicts
            ],
            "failed_fixes": [
                o.path for o in report.files if o.status not in fixed or o.path in conflicts
            ],
            "total_errors_fixed": report.issues_before - report.issues_after,
            "peak_concurrent_files": report.peak_concurrent_files,
            "peak_concurrent_merges": report.peak_concurrent_merges,
            "report": report.model_dump(mode="json"),
            "errors": report.errors,
        }
