"""The built-in agent really runs ruff's fixes on a real project, and only what it was asked."""

from __future__ import annotations

from pathlib import Path

from agents_support import RUFF, Collect

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.agents.ruff_fix import RuffFixAgent, fixable_codes
from stomper_lsp.checkers.model import Applicability, Fix, Issue, Position

UNSORTED_UNUSED = """\
import sys
import os
import json


def size(path: str) -> int:
    unused = json.dumps(path)
    return os.path.getsize(path) + "bytes"
"""


def _task(root: Path, target: str, issues: list[Issue], log_path: Path | None = None) -> AgentTask:
    return AgentTask(workdir=root, target=target, issues=issues, attempt=1, log_path=log_path)


def _codes(issues: list[Issue], tool: str) -> list[str]:
    return sorted(i.code for i in issues if i.tool == tool)


async def test_fixes_ruff_issues_and_leaves_mypy_errors(
    project: Path, collect: Collect, tmp_path: Path
) -> None:
    (project / "mod.py").write_text(UNSORTED_UNUSED)
    (project / "other.py").write_text("import sys\n")
    before = await collect(project, ["mod.py"], ["ruff", "mypy"])
    assert _codes(before, "ruff") == ["F401", "F841", "I001"]
    assert _codes(before, "mypy") == ["operator"]

    log = tmp_path / "logs" / "mod.log"
    result = await RuffFixAgent(RUFF).fix(_task(project, "mod.py", before, log_path=log))

    assert result.exit_code == 0 and not result.timed_out
    assert result.summary.startswith("applied F401, I001, F841 fixes")
    after = await collect(project, ["mod.py"], ["ruff", "mypy"])
    assert _codes(after, "ruff") == []
    mypy_before = [i for i in before if i.tool == "mypy"]
    assert [i.fingerprint for i in after] == [i.fingerprint for i in mypy_before]
    text = (project / "mod.py").read_text()
    assert "import sys" not in text and "unused =" not in text  # F841's fix is unsafe
    assert (project / "other.py").read_text() == "import sys\n"  # only the target
    logged = log.read_text()
    assert "ruff agent, attempt 1 on mod.py" in logged
    assert "applied F401, I001, F841 fixes" in logged


async def test_only_fixes_the_codes_it_is_given(project: Path, collect: Collect) -> None:
    (project / "mod.py").write_text(UNSORTED_UNUSED)
    before = await collect(project, ["mod.py"], ["ruff"])
    only_f401 = [i for i in before if i.code == "F401"]

    await RuffFixAgent(RUFF).fix(_task(project, "mod.py", only_f401))

    after = await collect(project, ["mod.py"], ["ruff"])
    assert _codes(after, "ruff") == ["F841", "I001"]
    assert "import sys" not in (project / "mod.py").read_text()


async def test_honours_the_project_ruff_config(project: Path, collect: Collect) -> None:
    """A rule the project marks unfixable stays, even though the task lists it."""
    (project / "mod.py").write_text("import sys\nimport os\n\nprint(os.sep)\n")
    before = await collect(project, ["mod.py"], ["ruff"])
    assert _codes(before, "ruff") == ["F401", "I001"]
    with (project / "pyproject.toml").open("a") as config:
        config.write('unfixable = ["F401"]\n')

    await RuffFixAgent(RUFF).fix(_task(project, "mod.py", before))

    assert (project / "mod.py").read_text() == "import os\nimport sys\n\nprint(os.sep)\n"


async def test_nothing_fixable_starts_no_process(project: Path, collect: Collect) -> None:
    long_line = "y = '" + "a" * 100 + "'\n"
    (project / "mod.py").write_text("def f(x: int) -> str:\n    return x\n\n\n" + long_line)
    issues = await collect(project, ["mod.py"], ["ruff", "mypy"])
    assert {i.code for i in issues} == {"return-value", "E501"}
    missing = str(project / "no-such-ruff")

    # A binary that does not exist proves no process is started when nothing is fixable...
    idle = await RuffFixAgent(missing).fix(_task(project, "mod.py", issues))
    assert idle.exit_code == 0 and "nothing ruff can fix" in idle.summary

    # ...and that a start failure becomes a result rather than an exception.
    fixable = Issue(
        path="mod.py", start=Position(line=0, character=0), end=Position(line=0, character=1),
        tool="ruff", code="F401", message="unused",
        fix=Fix(message=None, applicability=Applicability.SAFE, edits=()),
    )
    failed = await RuffFixAgent(missing).fix(_task(project, "mod.py", [fixable]))
    assert failed.exit_code is None and "could not start" in failed.summary


async def test_fixable_codes_are_real_rule_codes_with_a_fix(
    project: Path, collect: Collect
) -> None:
    (project / "mod.py").write_text("import os\n\nx = 1  # " + "long " * 20 + "\n")
    (project / "broken.py").write_text("def broken(:\n")
    real = await collect(project, ["mod.py", "broken.py"], ["ruff"])
    assert {i.code for i in real} == {"F401", "E501", "invalid-syntax"}
    assert fixable_codes(real) == ["F401"]  # E501 has no fix, invalid-syntax is no rule

    pseudo = real[0].model_copy(
        update={"code": "invalid-syntax", "fix": Fix(
            message=None, applicability=Applicability.SAFE, edits=()
        )}
    )
    display_only = real[0].model_copy(
        update={"code": "F811", "fix": Fix(
            message=None, applicability=Applicability.DISPLAY_ONLY, edits=()
        )}
    )
    mypy_issue = real[0].model_copy(update={"tool": "mypy", "code": "E501"})
    assert fixable_codes([pseudo, display_only, mypy_issue]) == []


OLD_TYPING = """\
from typing import List


def first(items: List[int]) -> List[int]:
    return items[:1]
"""


async def test_cleans_up_what_its_own_fixes_introduced(project: Path, collect: Collect) -> None:
    """UP006 turns List into list; the import it leaves unused is its own mess to clean."""
    (project / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "UP006"]\n')
    (project / "mod.py").write_text(OLD_TYPING)
    before = await collect(project, ["mod.py"], ["ruff"])
    assert _codes(before, "ruff") == ["UP006", "UP006"]

    await RuffFixAgent(RUFF).fix(_task(project, "mod.py", before))

    assert await collect(project, ["mod.py"], ["ruff"]) == []
    text = (project / "mod.py").read_text()
    assert "typing" not in text
    assert "def first(items: list[int]) -> list[int]:" in text


async def test_cleanup_respects_the_users_filter(project: Path, collect: Collect) -> None:
    (project / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "UP006"]\n')
    (project / "mod.py").write_text(OLD_TYPING)
    before = await collect(project, ["mod.py"], ["ruff"])

    await RuffFixAgent(RUFF, keep=lambda issue: issue.code != "F401").fix(
        _task(project, "mod.py", before)
    )

    assert _codes(await collect(project, ["mod.py"], ["ruff"]), "ruff") == ["F401"]


async def test_second_attempt_keeps_to_safe_fixes(project: Path, collect: Collect) -> None:
    """If attempt 1's unsafe fixes were rejected, attempt 2 leaves them out."""
    (project / "mod.py").write_text(UNSORTED_UNUSED)
    before = await collect(project, ["mod.py"], ["ruff"])
    agent = RuffFixAgent(RUFF)
    assert agent.max_useful_attempts == 2 and agent.fresh_attempts

    await agent.fix(AgentTask(workdir=project, target="mod.py", issues=before, attempt=2))

    text = (project / "mod.py").read_text()
    assert "unused = json.dumps(path)" in text  # F841's fix is unsafe: not applied
    assert "import sys" not in text  # F401's is safe


async def test_never_fixes_through_a_symbolic_link(
    project: Path, collect: Collect, tmp_path: Path
) -> None:
    """A committed `link.py -> /elsewhere/else.py` must not make ruff rewrite that file."""
    elsewhere = tmp_path / "elsewhere" / "else.py"
    elsewhere.parent.mkdir()
    elsewhere.write_text("import os\n")
    (project / "link.py").symlink_to(elsewhere)
    issues = await collect(project, ["link.py"], ["ruff"])
    assert _codes(issues, "ruff") == ["F401"]  # the issue is real, seen through the link

    result = await RuffFixAgent(RUFF).fix(_task(project, "link.py", issues))

    assert result.summary.startswith("skipped: link.py is a symbolic link")
    assert elsewhere.read_text() == "import os\n"
