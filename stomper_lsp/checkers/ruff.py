"""ruff, through its JSON output; unsaved text goes in through stdin."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stomper_lsp.checkers.base import LineTexts, ToolChecker
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError, ToolNotFoundError
from stomper_lsp.checkers.model import Applicability, Fix, FixEdit, Issue, Position, Severity
from stomper_lsp.checkers.warm_ruff import WarmStart
from stomper_lsp.process import ProcessResult, Started, run_process

_BASE_ARGS = ("check", "--output-format", "json-lines", "--no-fix", "--force-exclude")
_FOUND_ISSUES = 1
_CHUNK = 1000  # files per process: keeps argv far below the kernel's limit


def _position(location: Mapping[str, Any] | None) -> Position:
    if not location:
        return Position(line=0, character=0)
    return Position(
        line=max(int(location.get("row", 1)) - 1, 0),
        character=max(int(location.get("column", 1)) - 1, 0),
    )


def _fix(raw: Mapping[str, Any] | None) -> Fix | None:
    if not raw or not raw.get("edits"):
        return None
    try:
        applicability = Applicability(raw.get("applicability", "unsafe"))
    except ValueError:
        applicability = Applicability.UNSAFE
    edits = tuple(
        FixEdit(
            start=_position(e.get("location")),
            end=_position(e.get("end_location")),
            content=e.get("content") or "",
        )
        for e in raw["edits"]
    )
    return Fix(message=raw.get("message"), applicability=applicability, edits=edits)


def _relative(filename: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(filename, root)).as_posix()
    except ValueError:
        return filename


_MEMO_LIMIT = 4096
_MemoKey = tuple[str, bytes]  # root, one line of ruff's output
_Found = list[tuple[bytes, dict[str, Any] | None]]
"""Each line of output, decoded unless the memo knows it."""


class RuffChecker(ToolChecker):
    """Also remembers the issues it built: from one keystroke to the next nearly every
    finding is the same, and decoding and validating one costs far more than recognising
    it. ruff prints one JSON object per line (`json-lines`), so a finding is recognised by
    its line of output alone, before any decoding (with the text of its flagged line,
    which the issue carries and ruff's output does not)."""

    name = "ruff"
    reads_unsaved_text = True

    def __init__(
        self,
        environment: ProjectEnvironment,
        *,
        explicit_path: str | None = None,
        timeout: float = 120.0,
        rule_args: Sequence[str] = (),
    ) -> None:
        super().__init__(environment, explicit_path=explicit_path, timeout=timeout)
        self.rule_args = list(rule_args)
        """`--select` & co. from Stomper's settings (see checkers/rule_selection.py)."""
        self._memo: dict[_MemoKey, Issue] = {}
        self.ahead: WarmStart | None = None
        """Set by `start_ahead`: unsaved text is linted by a ruff started before it."""

    def start_ahead(self) -> None:
        """Lint unsaved text with a ruff started ahead of each keystroke (warm_ruff.py);
        for the language server, which must `close` the checker when done with it."""
        if self.ahead is None and Started.supported():
            self.ahead = WarmStart()

    def forget(self, path: Path) -> None:
        """`path` is no longer edited: kill the ruff started ahead for it, if any."""
        if self.ahead is not None:
            self.ahead.discard(path)

    def close(self) -> None:
        """Kill the ruff started ahead, if any, and start no other."""
        if self.ahead is not None:
            self.ahead.close()

    async def check(
        self,
        root: Path,
        paths: Sequence[str],
        overlays: Mapping[str, str] | None = None,
    ) -> list[Issue]:
        overlays = {p: t for p, t in (overlays or {}).items() if p in set(paths)}
        on_disk = [p for p in paths if p not in overlays]
        jobs = [self._run(root, on_disk[i : i + _CHUNK]) for i in range(0, len(on_disk), _CHUNK)]
        jobs += [self._run(root, [path], text) for path, text in overlays.items()]
        texts = LineTexts(root, overlays)
        issues: list[Issue] = []
        memo = self._memo
        fresh: dict[_MemoKey, Issue] = {}
        base = str(root)
        for found in await asyncio.gather(*jobs):
            for raw, item in found:
                key = (base, raw)
                issue = memo.get(key)
                if issue is not None and issue.line_text != texts.line(
                    issue.path, issue.start.line
                ):
                    issue = None
                if issue is None:
                    if item is None:
                        item = json.loads(raw)  # validated by _lines
                    issue = self._to_issue(root, item, texts)
                fresh[key] = issue
                issues.append(issue)
        self._memo = fresh if len(memo) + len(fresh) > _MEMO_LIMIT else {**memo, **fresh}
        return issues

    async def _run(self, root: Path, paths: Sequence[str], text: str | None = None) -> _Found:
        if not paths:
            return []
        argv = [self.binary(), *_BASE_ARGS, *self.rule_args]
        if text is not None:
            argv += ["--stdin-filename", str(root / paths[0]), "-"]
        else:
            argv += ["--", *paths]
        try:
            if text is not None and self.ahead is not None:
                result = await self.ahead.run(
                    argv, cwd=root, file=root / paths[0], stdin_data=text.encode("utf-8"),
                    timeout=self._timeout,
                )
            else:
                result = await run_process(
                    argv,
                    cwd=root,
                    timeout=self._timeout,
                    stdin_data=text.encode("utf-8") if text is not None else None,
                )
        except OSError as exc:
            raise ToolNotFoundError("ruff", f"could not start: {exc}", argv) from exc
        return self._lines(result, str(root))

    async def fixed_text(
        self, root: Path, path: str, text: str, *, rules: Sequence[str] = ()
    ) -> str:
        """`text` with ruff's safe fixes applied (only `rules`' when given), as
        `ruff check --fix-only` on stdin prints it: the unsaved buffer, never the disk."""
        argv = [self.binary(), "check", "--fix-only", "--exit-zero", "--force-exclude"]
        for rule in rules:
            argv += ["--select", rule]
        argv += ["--stdin-filename", str(root / path), "-"]
        try:
            result = await run_process(
                argv, cwd=root, timeout=self._timeout, stdin_data=text.encode("utf-8")
            )
        except OSError as exc:
            raise ToolNotFoundError("ruff", f"could not start: {exc}", argv) from exc
        if result.timed_out:
            raise CheckerError(
                "ruff", f"timed out after {self._timeout:g}s (checker_timeout)", result.argv
            )
        if result.returncode != 0 or result.truncated:
            problem = "printed more than Stomper reads" if result.truncated else (
                f"failed with exit code {result.returncode}")
            raise CheckerError("ruff", problem, result.argv, result.stderr_text)
        return result.stdout_text

    def _lines(self, result: ProcessResult, base: str) -> _Found:
        if result.timed_out:
            raise CheckerError(
                "ruff", f"timed out after {self._timeout:g}s (checker_timeout)", result.argv
            )
        if result.returncode not in (0, _FOUND_ISSUES):
            raise CheckerError(
                "ruff", f"failed with exit code {result.returncode}", result.argv,
                result.stderr_text,
            )
        found: _Found = []
        for raw in result.stdout.splitlines():
            if not raw.strip():
                continue
            if (base, raw) in self._memo:
                found.append((raw, None))
                continue
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CheckerError(
                    "ruff", f"printed output that is not JSON ({exc})", result.argv,
                    result.stderr_text or result.stdout_text[:500],
                ) from exc
            if not isinstance(item, dict):
                raise CheckerError("ruff", "printed JSON that is not an object", result.argv)
            found.append((raw, item))
        return found

    @staticmethod
    def _to_issue(
        root: Path, item: Mapping[str, Any], texts: LineTexts, path: str | None = None
    ) -> Issue:
        if path is None:
            path = _relative(str(item.get("filename", "")), root)
        start = _position(item.get("location"))
        end = _position(item.get("end_location"))
        code = item.get("code") or "invalid-syntax"
        severity = Severity.WARNING if item.get("severity") == "warning" else Severity.ERROR
        return Issue(
            path=path,
            start=start,
            end=end,
            tool="ruff",
            code=str(code),
            message=str(item.get("message", "")),
            severity=severity,
            url=item.get("url"),
            fix=_fix(item.get("fix")),
            line_text=texts.line(path, start.line),
        )
