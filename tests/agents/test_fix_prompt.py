"""The prompt an AI agent reads: every issue with its docs, guidance, rules, retry feedback."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from agents_support import Collect

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.agents.guidance import GUIDANCE, guidance_for
from stomper_lsp.agents.prompt import build_prompt, write_prompt_file
from stomper_lsp.checkers.model import Issue, Position

SOURCE = """\
import os
from typing import List


def first(values: List[int]) -> str:
    return values[0]


first(["a"])
"""


def _issue(code: str, message: str, line: int = 0, tool: str = "ruff") -> Issue:
    return Issue(path="mod.py", start=Position(line=line, character=0),
                 end=Position(line=line, character=1), tool=tool, code=code, message=message)


async def test_every_real_issue_is_listed_with_its_docs_and_guidance(
    project: Path, collect: Collect
) -> None:
    (project / "mod.py").write_text(SOURCE)
    issues = await collect(project, ["mod.py"], ["ruff", "mypy"])
    assert {i.code for i in issues} >= {"F401", "UP006", "return-value", "list-item"}

    prompt = build_prompt(AgentTask(workdir=project, target="mod.py", issues=issues, attempt=1))

    assert f"# Fix {len(issues)} issues in `mod.py`" in prompt
    for issue in issues:
        assert f"line {issue.line}, {issue.tool} `{issue.code}`: " in prompt
        assert issue.message.splitlines()[0] in prompt
        assert issue.url and f"docs: {issue.url}" in prompt
    assert "line 6, mypy `return-value`" in prompt  # 1-based lines
    assert "https://docs.astral.sh/ruff/rules/unused-import" in prompt
    assert "flagged line: `return values[0]`" in prompt
    assert f"`F401`: {GUIDANCE['F401']}" in prompt
    assert f"`return-value`: {GUIDANCE['return-value']}" in prompt
    assert GUIDANCE["B006"] not in prompt  # only advice for codes that occur
    assert "# noqa" in prompt and "`.git`" in prompt and "Keep the behaviour" in prompt
    assert "previous attempt" not in prompt


def test_the_retry_section_appears_only_on_retries(tmp_path: Path) -> None:
    issues = [_issue("F401", "`os` imported but unused")]
    still = [_issue("E501", "Line too long (120 > 100)", line=4)]
    feedback = "1 new issue: ruff E501 at line 5"
    first = AgentTask(workdir=tmp_path, target="mod.py", issues=issues, attempt=1)
    retry = AgentTask(workdir=tmp_path, target="mod.py", issues=issues, attempt=2,
                      previous_issues=still, feedback=feedback)

    assert "Attempt" not in build_prompt(first)
    prompt = build_prompt(retry)
    assert "## Attempt 2: the previous attempt was rejected" in prompt
    assert feedback in prompt
    assert "line 5, ruff `E501`: Line too long (120 > 100)" in prompt
    assert prompt.index("## Rules") < prompt.index("## Attempt 2")


def test_long_feedback_keeps_its_tail(tmp_path: Path) -> None:
    feedback = "FIRST LINE\n" + "x" * 20000 + "\nFAILED tests/test_mod.py::test_first"
    task = AgentTask(workdir=tmp_path, target="mod.py", issues=[], attempt=3, feedback=feedback)
    prompt = build_prompt(task)
    assert "FAILED tests/test_mod.py::test_first" in prompt
    assert "FIRST LINE" not in prompt and len(prompt) < 10000


def test_prompt_files_are_unique_per_target_and_attempt(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    written = {
        write_prompt_file(AgentTask(workdir=tmp_path, target=target, attempt=attempt,
                                    issues=[_issue("F401", f"unused in {target}")],
                                    prompt_dir=folder))
        for target in ("a/b_c.py", "a_b/c.py")
        for attempt in (1, 2)
    }
    assert len(written) == 4
    assert all(path.parent == folder.resolve() and path.suffix == ".md" for path in written)
    for path in written:
        assert "attempt" in path.name and "unused in a" in path.read_text()


def test_guidance_matches_exact_codes_then_families() -> None:
    assert guidance_for("SIM108") == GUIDANCE["SIM"]
    assert guidance_for("UP006") == GUIDANCE["UP006"]
    assert guidance_for("arg-type") == GUIDANCE["arg-type"]
    assert guidance_for("UP999") is None and guidance_for("misc") is None
    common = {"F401", "F841", "E501", "E711", "E712", "I001", "B006", "B008", "UP006", "UP007",
              "UP035", "SIM", "arg-type", "return-value", "assignment", "union-attr",
              "attr-defined", "name-defined", "no-untyped-def", "var-annotated",
              "import-untyped", "call-arg", "index", "override"}
    assert common <= set(GUIDANCE)


def test_the_template_ships_as_package_data() -> None:
    template = resources.files("stomper_lsp.agents").joinpath("templates", "fix_prompt.md")
    assert template.is_file() and "$issues" in template.read_text(encoding="utf-8")
