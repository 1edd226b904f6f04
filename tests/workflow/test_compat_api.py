"""The Python API existing Stomper scripts use keeps working."""

from __future__ import annotations

from typing import Any

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.workflow import StomperWorkflow
from tests.workflow.repos import BROKEN, FIXED


class ScriptAgent:
    """A script's own agent: returns nothing useful; the checkers judge its edits."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def fix(self, task: AgentTask) -> None:
        self.calls.append(task.target)
        path = task.workdir / task.target
        path.write_text(FIXED if "None" in path.read_text() else path.read_text())


async def test_stomper_workflow_run_with_registered_agent(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN, "clean.py": "X = 1\n"})
    workflow = StomperWorkflow(root, max_parallel_files=2, use_sandbox=True, run_tests=False)
    agent = ScriptAgent()
    workflow.register_agent("script", agent)
    final_state = await workflow.run({"enabled_tools": ["ruff"]})
    assert final_state["status"] == "completed"
    assert sorted(final_state["successful_fixes"]) == ["a.py", "b.py"]
    assert final_state["failed_fixes"] == []
    assert final_state["total_errors_fixed"] == 4
    assert sorted(agent.calls) == ["a.py", "b.py"]
    assert (root / "a.py").read_text() == FIXED  # delivered into the working tree


async def test_nested_workflow_config_form(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN})
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + "\n[tool.stomper.workflow]\nmax_parallel_files = 3\n"
    )
    from stomper_lsp.project import Project

    assert Project.load(root).config.max_parallel_files == 3
