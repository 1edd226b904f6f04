"""Run the enabled checkers side by side and apply select/ignore."""

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
from stomper_lsp.config import StomperConfig


@dataclass
class CheckReport:
    issues: list[Issue] = field(default_factory=list)
    errors: list[CheckerError] = field(default_factory=list)


# ruff linters whose codes continue with a letter: pylint's PLC/PLE/PLR/PLW.
_LETTER_SUBGROUPS = frozenset({"PL"})


def code_matches(code: str, patterns: Sequence[str]) -> bool:
    """ruff-style prefix match (`F` matches `F401`); word codes such as `arg-type` match whole.

    As in ruff, a prefix stops at the linter's name: `S` (bandit) does not match `SIM108`,
    and `E` does not match `ERA001`.
    """
    for pattern in patterns:
        if code == pattern:
            return True
        if pattern[:1].isupper() and code.startswith(pattern) and not code[:1].islower():
            following = code[len(pattern)]
            if following.isdigit() or pattern[-1].isdigit() or pattern in _LETTER_SUBGROUPS:
                return True
    return False


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
                    environment, explicit_path=config.ruff_path, timeout=config.checker_timeout
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
    """Stomper's own select/ignore, applied on top of what each tool's config reports."""

    def __init__(self, config: StomperConfig) -> None:
        self._select = list(config.select)
        self._ignore = list(config.ignore)

    def __call__(self, issue: Issue) -> bool:
        if self._select and not code_matches(issue.code, self._select):
            return False
        return not code_matches(issue.code, self._ignore)


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
