"""The instructions an AI agent gets for one file, rendered from a packaged template.

The prompt travels as a FILE (outside the sandbox): argv has a size limit and shows up in
`ps`, and a prompt can hold long issue lists and test output.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.agents.guidance import guidance_lines
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.mypy import DOCS_URL as MYPY_DOCS_URL

_TEMPLATE = "fix_prompt.md"
_FEEDBACK_LIMIT = 6000
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@cache
def _template() -> Template:
    text = resources.files("stomper_lsp.agents").joinpath("templates", _TEMPLATE).read_text(
        encoding="utf-8"
    )
    return Template(text)


def _docs_url(issue: Issue) -> str | None:
    if issue.url:
        return issue.url
    if issue.tool == "mypy":
        return MYPY_DOCS_URL.format(code=issue.code)
    return None


def _indent(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


def format_issues(issues: Sequence[Issue]) -> str:
    """A numbered list: where, which tool and code, the message, docs link, flagged line."""
    if not issues:
        return "(none reported)"
    entries: list[str] = []
    for number, issue in enumerate(issues, 1):
        lines = [
            f"{number}. line {issue.line}, {issue.tool} `{issue.code}`: "
            + _indent(issue.message, "   ")
        ]
        url = _docs_url(issue)
        if url:
            lines.append(f"   docs: {url}")
        if issue.line_text.strip():
            lines.append(f"   flagged line: `{issue.line_text.strip()}`")
        entries.append("\n".join(lines))
    return "\n".join(entries)


def _guidance_section(issues: Sequence[Issue]) -> str:
    lines = guidance_lines(issue.code for issue in issues)
    if not lines:
        return ""
    return "\n## How to fix these kinds of issues\n\n" + "\n".join(lines) + "\n"


def _retry_section(task: AgentTask) -> str:
    if task.attempt <= 1:
        return ""
    parts = [
        f"\n## Attempt {task.attempt}: the previous attempt was rejected\n",
        "Read the file as it is now before you edit it again.",
    ]
    feedback = task.feedback.strip()
    if feedback:
        if len(feedback) > _FEEDBACK_LIMIT:
            feedback = "[...]\n" + feedback[-_FEEDBACK_LIMIT:]
        parts += ["\nWhy it was rejected:\n", "~~~~text", feedback, "~~~~"]
    if task.previous_issues:
        parts += [
            "\nStill wrong or newly introduced after the previous attempt:\n",
            format_issues(task.previous_issues),
        ]
    return "\n".join(parts) + "\n"


def build_prompt(task: AgentTask) -> str:
    count = len(task.issues)
    return _template().substitute(
        target=task.target,
        count_text=f"{count} issue" + ("" if count == 1 else "s"),
        issues=format_issues(task.issues),
        guidance=_guidance_section(task.issues),
        retry=_retry_section(task),
    )


def prompt_file_name(target: str, attempt: int) -> str:
    """Readable and unique per target and attempt (the hash tells `a/b_c` from `a_b/c`)."""
    slug = _UNSAFE_NAME.sub("_", target).strip("_")[-60:] or "file"
    digest = hashlib.sha1(target.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}-attempt{attempt}.md"


def write_prompt_file(task: AgentTask) -> Path:
    """Write the prompt into `task.prompt_dir`; without one, into a new temporary folder
    that the caller owns (CommandAgent supplies its own and removes it)."""
    folder = task.prompt_dir or Path(tempfile.mkdtemp(prefix="stomper-prompt-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / prompt_file_name(task.target, task.attempt)
    path.write_text(build_prompt(task), encoding="utf-8")
    return path.resolve()
