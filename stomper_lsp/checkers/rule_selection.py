"""What `select`, `extend_select`, `ignore` and `target_version` mean, for each tool.

ruff's codes go to ruff as ruff's own flags (`--select`, `--extend-select`, `--ignore`,
`--target-version`), on top of the project's ruff config, so `--select B904` enables B904
even where the project's config does not select `B`, exactly as `ruff check --select B904`
would. mypy has no such switches for its error codes, so for mypy the lists stay a filter
over what it reports. Codes are told apart by their spelling: ruff's are upper case
(`F401`, `UP`, `ALL`), mypy's are words (`arg-type`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stomper_lsp.checkers.model import Issue

_RUFF_SELECTOR = re.compile(r"[A-Z]+[0-9]*")


def is_ruff_selector(code: str) -> bool:
    """`F`, `E7`, `PLR0913`, `ALL`: something ruff's --select understands."""
    return _RUFF_SELECTOR.fullmatch(code) is not None


# ruff linters whose codes continue with a letter: pylint's PLC/PLE/PLR/PLW.
_LETTER_SUBGROUPS = frozenset({"PL"})


def code_matches(code: str, patterns: Sequence[str]) -> bool:
    """ruff-style prefix match (`F` matches `F401`); word codes such as `arg-type` match whole.

    As in ruff, a prefix stops at the linter's name: `S` (bandit) does not match `SIM108`,
    and `E` does not match `ERA001`.
    """
    for pattern in patterns:
        if code == pattern or (pattern == "ALL" and is_ruff_selector(code)):
            return True
        if pattern[:1].isupper() and code.startswith(pattern) and not code[:1].islower():
            following = code[len(pattern)]
            if following.isdigit() or pattern[-1].isdigit() or pattern in _LETTER_SUBGROUPS:
                return True
    return False


class RuleSelection:
    """The rule lists of one configuration: ruff's flags and the filter over mypy."""

    def __init__(
        self,
        select: Sequence[str] = (),
        extend_select: Sequence[str] = (),
        ignore: Sequence[str] = (),
        target_version: str | None = None,
    ) -> None:
        self.select = list(select)
        self.extend_select = list(extend_select)
        self.ignore = list(ignore)
        self.target_version = target_version

    def ruff_args(self) -> list[str]:
        """The flags that reach `ruff check` (the project's ruff config applies underneath)."""
        args: list[str] = []
        for flag, codes in (
            ("--select", self.select),
            ("--extend-select", self.extend_select),
            ("--ignore", self.ignore),
        ):
            ruff_codes = [code for code in codes if is_ruff_selector(code)]
            if ruff_codes:
                args += [flag, ",".join(ruff_codes)]
        if self.target_version:
            args += ["--target-version", self.target_version]
        return args

    def keep(self, issue: Issue) -> bool:
        """Whether a reported issue counts.

        ruff's issues were selected by ruff itself (its flags carry the lists), except when
        `select` names only mypy codes: then no ruff issue is wanted. mypy's issues are
        filtered here: with a `select`, only codes in `select` or `extend_select`; never
        one in `ignore`.
        """
        if issue.tool == "ruff":
            return not self.select or any(is_ruff_selector(code) for code in self.select)
        if self.select and not code_matches(issue.code, [*self.select, *self.extend_select]):
            return False
        return not code_matches(issue.code, self.ignore)
