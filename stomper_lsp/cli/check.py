"""`stomper check`: list ruff and mypy issues grouped by file."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

from stomper_lsp.checkers.model import Applicability, group_by_path
from stomper_lsp.checkers.runner import CheckReport
from stomper_lsp.cli.exit_codes import EXIT_CLEAN, EXIT_ERROR, EXIT_ISSUES
from stomper_lsp.project import Project


def display_path(root: Path, rel: str) -> str:
    """A path the user can click: relative to the current directory when that is shorter."""
    absolute = root / rel
    try:
        shown = os.path.relpath(absolute)
    except ValueError:
        return str(absolute)
    return shown if not shown.startswith("../../") else str(absolute)


async def run_check(project: Project, paths: list[str], *, as_json: bool, out: TextIO) -> int:
    files = await project.python_files(paths)
    report = await project.check_runner().run(project.root, files) if files else CheckReport()
    if as_json:
        _print_json(project, files, report, out)
    else:
        _print_text(project, files, report, out)
    for error in report.errors:
        print(f"stomper: error: {error.describe()}", file=sys.stderr)
    if report.errors:
        return EXIT_ERROR
    return EXIT_ISSUES if report.issues else EXIT_CLEAN


def _print_text(project: Project, files: list[str], report: CheckReport, out: TextIO) -> None:
    if not files:
        print(f"No Python files to check under {project.root}.", file=out)
        return
    grouped = group_by_path(report.issues)
    for path, issues in grouped.items():
        print(display_path(project.root, path), file=out)
        for issue in issues:
            fixable = ""
            if issue.fix is not None and issue.fix.applicability != Applicability.DISPLAY_ONLY:
                fixable = f"  [fixable, {issue.fix.applicability.value}]"
            message = issue.message.splitlines()[0] if issue.message else ""
            print(
                f"  {issue.line}:{issue.start.character + 1}  {issue.tool}  {issue.code}  "
                f"{message}{fixable}",
                file=out,
            )
    by_tool = Counter(issue.tool for issue in report.issues)
    checked = _plural(len(files), "file")
    if report.issues:
        tools = ", ".join(f"{n} {tool}" for tool, n in sorted(by_tool.items()))
        fixable_count = sum(1 for i in report.issues if i.fix is not None)
        print(
            f"Found {_plural(len(report.issues), 'issue')} ({tools}) in {len(grouped)} of "
            f"{checked}; {fixable_count} fixable by the built-in ruff agent.",
            file=out,
        )
    elif not report.errors:
        print(f"All clear: no issues in {checked}.", file=out)
    if report.errors:
        # Never "all clear" when a checker could not give an answer.
        failed = sorted({e.tool for e in report.errors})
        print(
            f"Incomplete: {' and '.join(failed)} failed (see stderr), so this is not the full "
            f"list for the {checked} checked.",
            file=out,
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_json(project: Project, files: list[str], report: CheckReport, out: TextIO) -> None:
    payload = {
        "root": str(project.root),
        "files_checked": len(files),
        "issues": [
            {**issue.model_dump(mode="json"), "fingerprint": issue.fingerprint}
            for issue in report.issues
        ],
        "summary": {
            "issues": len(report.issues),
            "files_with_issues": len({i.path for i in report.issues}),
            "by_tool": dict(Counter(i.tool for i in report.issues)),
        },
        "errors": [
            {"tool": e.tool, "message": e.problem, "command": list(e.argv), "stderr": e.stderr}
            for e in report.errors
        ],
        "warnings": project.warnings,
    }
    json.dump(payload, out, indent=2)
    out.write("\n")
