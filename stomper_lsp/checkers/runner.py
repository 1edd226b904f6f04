"""Run the enabled checkers side by side, each with the rule selection it understands."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.checkers.base import Checker
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.model import Issue
from stomper_lsp.checkers.mypy import MypyChecker
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.checkers.rule_selection import RuleSelection, code_matches

__all__ = ["CheckReport", "CheckRunner", "IssueFilter", "build_checkers", "code_matches"]
from stomper_lsp.config import StomperConfig


@dataclass
class CheckReport:
    issues: list[Issue] = field(default_factory=list)
    errors: list[CheckerError] = field(default_factory=list)


def rule_selection(config: StomperConfig) -> RuleSelection:
    return RuleSelection(
        config.select, config.extend_select, config.ignore, config.target_version
    )


def build_checkers(
    config: StomperConfig,
    environment: ProjectEnvironment,
    *,
    mypy_cache_dir: Path | None = None,
) -> list[Checker]:
    checkers: list[Checker] = []
    for tool in config.tools:
        if tool == "ruff":
            checkers.append(
                RuffChecker(
                    environment,
                    explicit_path=config.ruff_path,
                    timeout=config.checker_timeout,
                    rule_args=rule_selection(config).ruff_args(),
                )
            )
        else:
            checkers.append(
                MypyChecker(
                    environment,
                    explicit_path=config.mypy_path,
                    timeout=config.checker_timeout,
                    cache_dir=mypy_cache_dir,
                )
            )
    return checkers


class IssueFilter:
    """Which reported issues count; the ruff side is already decided by ruff's flags."""

    def __init__(self, config: StomperConfig) -> None:
        self._selection = rule_selection(config)

    def __call__(self, issue: Issue) -> bool:
        return self._selection.keep(issue)


class CheckRunner:
    """The checkers of one project with its select/ignore filters applied."""

    def __init__(self, checkers: Sequence[Checker], config: StomperConfig) -> None:
        self.checkers = list(checkers)
        self.keep = IssueFilter(config)

    async def run(
        self,
        root: Path,
        paths: Sequence[str],
        overlays: Mapping[str, str] | None = None,
    ) -> CheckReport:
        report = CheckReport()
        if not paths:
            return report
        results = await asyncio.gather(
            *(c.check(root, paths, overlays) for c in self.checkers), return_exceptions=True
        )
        for checker, result in zip(self.checkers, results, strict=True):
            if isinstance(result, CheckerError):
                report.errors.append(result)
            elif isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                report.errors.append(CheckerError(checker.name, f"failed unexpectedly: {result!r}"))
            else:
                report.issues.extend(i for i in result if self.keep(i))
        report.issues.sort(key=lambda i: (i.path, i.start.line, i.start.character, i.tool, i.code))
        return report
