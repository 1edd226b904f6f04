"""mypy, through `--output json` (text output breaks under the user's `pretty = true`).

Unsaved editor text reaches mypy through `--shadow-file SOURCE SHADOW`: each buffer is
written to a scratch directory outside the workspace and mypy reads it in place of the
file on disk, so diagnostics follow the text the user sees (imports between dirty
buffers included), and nothing is written into the project.

mypy stops the whole run at a "blocking" error (a syntax error, an undecodable file): such
files are reported and left out of a second run, so one broken file does not hide the
type errors of all the others.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stomper_lsp.checkers.base import LineTexts, ToolChecker
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import CheckerError, ToolNotFoundError
from stomper_lsp.checkers.model import Issue, Position, Severity
from stomper_lsp.checkers.mypy_cache_guard import guard_for
from stomper_lsp.checkers.mypy_config import sanitized_config, scratch_dir
from stomper_lsp.checkers.mypy_shadow_cache import dirty_paths, forget
from stomper_lsp.process import ProcessResult, run_process

_BASE_ARGS = (
    "--output", "json", "--no-pretty", "--no-error-summary", "--no-color-output",
    "--hide-error-context", "--show-error-codes",
)
_FOUND_ISSUES = 1
_BLOCKING = 2
_BLOCKING_CODE = "blocking-error"
# mypy stops at the first file it cannot parse, so each rerun leaves out one more file.
_MAX_BLOCKING_RERUNS = 50
_STAND_IN_MODULE = (
    "# Stands in for a module mypy cannot parse, so the modules importing it still get\n"
    "# checked.\nfrom typing import Any\n\n\ndef __getattr__(name: str) -> Any: ...\n"
)
_PLAIN_ERROR = re.compile(
    r"^(?P<path>[^:\n]+?\.pyi?):(?:(?P<line>\d+):)?(?:\d+:)? error: (?P<msg>.+)$"
)
DOCS_URL = "https://mypy.readthedocs.io/en/stable/_refs.html#code-{code}"


class MypyChecker(ToolChecker):
    name = "mypy"
    reads_unsaved_text = True

    def __init__(
        self,
        environment: ProjectEnvironment,
        *,
        explicit_path: str | None = None,
        timeout: float = 120.0,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(environment, explicit_path=explicit_path, timeout=timeout)
        self._cache_dir = cache_dir

    def _argv(
        self, paths: Sequence[str], shadows: Mapping[str, str], config: Path | None = None
    ) -> list[str]:
        binary = self.binary()
        argv = [binary, *_BASE_ARGS]
        if config is not None:
            argv += ["--config-file", str(config)]
        python = self._environment.project_python()
        if python and Path(python).parent != Path(binary).parent:
            argv += ["--python-executable", python]
        if self._cache_dir is not None:
            argv += ["--cache-dir", str(self._cache_dir)]
        for source, shadow in sorted(shadows.items()):
            argv += ["--shadow-file", source, shadow]
        return [*argv, "--", *paths]

    async def check(
        self,
        root: Path,
        paths: Sequence[str],
        overlays: Mapping[str, str] | None = None,
    ) -> list[Issue]:
        if self._cache_dir is not None:
            await asyncio.to_thread(guard_for(self._cache_dir).before_run, root, paths)
        overlays = dict(overlays or {})
        dirty = await asyncio.to_thread(dirty_paths, root, overlays)
        if dirty and self._cache_dir is not None:
            await asyncio.to_thread(forget, self._cache_dir, dirty)
        try:
            with tempfile.TemporaryDirectory(prefix="stomper-mypy-") as scratch:
                buffers = await asyncio.to_thread(_write_shadows, Path(scratch), overlays)
                return await self._check(
                    root, paths, Path(scratch) / "unparsable_module.py", buffers, overlays
                )
        finally:
            if dirty and self._cache_dir is not None:
                await asyncio.to_thread(forget, self._cache_dir, dirty)

    async def _check(
        self,
        root: Path,
        paths: Sequence[str],
        stand_in: Path,
        buffers: Mapping[str, str],
        overlays: Mapping[str, str],
    ) -> list[Issue]:
        """Rerun without each file that stops mypy, until mypy gets through.

        mypy aborts at the first file it cannot parse or decode. That file is dropped from
        the command line and, since other files may import it, replaced by a stand-in
        module whose every attribute is `Any` (`--shadow-file`); its own issues are final.
        """
        texts = LineTexts(root, overlays)
        requested = set(paths)
        remaining = list(paths)
        shadows: dict[str, str] = dict(buffers)
        stood_in: set[str] = set()
        issues: list[Issue] = []
        for _ in range(_MAX_BLOCKING_RERUNS + 1):
            if not remaining:
                break
            result = await self._run(root, remaining, shadows)
            found, blocked = self._parse(result, texts)
            if result.returncode != _BLOCKING:
                checked = set(remaining)
                issues.extend(i for i in found if i.path in checked)
                break
            newly_blocked = blocked - stood_in
            if not newly_blocked:
                raise _unattributed_block(result)
            issues.extend(i for i in found if i.path in newly_blocked)
            if not stand_in.exists():
                stand_in.write_text(_STAND_IN_MODULE, encoding="utf-8")
            shadows.update(dict.fromkeys(newly_blocked, str(stand_in)))
            stood_in |= newly_blocked
            remaining = [p for p in remaining if p not in blocked]
        else:
            if remaining:
                raise CheckerError(
                    "mypy",
                    f"stopped at blocking errors (syntax errors, undecodable files) in more "
                    f"than {_MAX_BLOCKING_RERUNS} files; fix those first",
                )
        # mypy also reports the modules the checked files import; those are not ours to show.
        return [i for i in issues if i.path in requested]

    async def _run(
        self, root: Path, paths: Sequence[str], shadows: Mapping[str, str]
    ) -> ProcessResult:
        config = None
        if not self._environment.trusted:
            # The repository's plugins and python_executable would run its code.
            config = await asyncio.to_thread(sanitized_config, root, scratch_dir())
        argv = self._argv(paths, shadows, config)
        try:
            result = await run_process(argv, cwd=root, timeout=self._timeout)
        except OSError as exc:
            raise ToolNotFoundError("mypy", f"could not start: {exc}", argv) from exc
        if result.timed_out:
            raise CheckerError(
                "mypy", f"timed out after {self._timeout:g}s (checker_timeout)", result.argv
            )
        if result.returncode not in (0, _FOUND_ISSUES, _BLOCKING):
            raise CheckerError(
                "mypy", f"crashed with exit code {result.returncode}", result.argv,
                (result.stderr_text + "\n" + result.stdout_text).strip(),
            )
        return result

    def _parse(self, result: ProcessResult, texts: LineTexts) -> tuple[list[Issue], set[str]]:
        issues: list[Issue] = []
        blocked: set[str] = set()
        unparsed: list[str] = []
        for line in (result.stdout_text + "\n" + result.stderr_text).splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    unparsed.append(line)
                    continue
                issue = self._to_issue(item, texts, blocking=result.returncode == _BLOCKING)
                if issue is not None:
                    issues.append(issue)
                    if issue.code in ("syntax", _BLOCKING_CODE):
                        blocked.add(issue.path)
                continue
            match = _PLAIN_ERROR.match(line)
            if match:
                path = Path(match["path"]).as_posix()
                line_no = max(int(match["line"] or 1) - 1, 0)
                issues.append(
                    Issue(
                        path=path,
                        start=Position(line=line_no, character=0),
                        end=Position(line=line_no, character=0),
                        tool="mypy",
                        code=_BLOCKING_CODE,
                        message=match["msg"],
                        line_text=texts.line(path, line_no),
                    )
                )
                blocked.add(path)
            elif not line.startswith(("Success:", "Found ")):
                unparsed.append(line)
        if unparsed and result.returncode == _FOUND_ISSUES and not issues:
            raise CheckerError(
                "mypy", "printed output that is not JSON (is it older than 1.11?)",
                result.argv, "\n".join(unparsed[:20]),
            )
        return issues, blocked

    @staticmethod
    def _to_issue(item: Mapping[str, Any], texts: LineTexts, *, blocking: bool) -> Issue | None:
        if item.get("severity") == "note":
            return None
        path = Path(str(item.get("file", ""))).as_posix()
        line = max(int(item.get("line") or 1) - 1, 0)
        column = max(int(item.get("column") or 0), 0)
        if item.get("code") == "syntax":  # mypy reports parser columns 1-based
            column = max(column - 1, 0)
        end_line = max(int(item.get("end_line") or line + 1) - 1, line)
        end_column = int(item.get("end_column") or column + 1)
        if end_line == line and end_column <= column:
            end_column = column + 1
        # Every ordinary error has a code; in a run mypy aborted, the one without a code is
        # what stopped it (e.g. "Duplicate module named ..."), and it names its file.
        code = str(item.get("code") or (_BLOCKING_CODE if blocking else "misc"))
        message = str(item.get("message", ""))
        if item.get("hint"):
            message += "\n" + str(item["hint"])
        return Issue(
            path=path,
            start=Position(line=line, character=column),
            end=Position(line=end_line, character=end_column),
            tool="mypy",
            code=code,
            message=message,
            severity=Severity.ERROR,
            url=DOCS_URL.format(code=code),
            line_text=texts.line(path, line),
        )


def _write_shadows(scratch: Path, overlays: Mapping[str, str]) -> dict[str, str]:
    """project-relative path -> a scratch file holding its unsaved text (same suffix: mypy
    reads a `.pyi` shadow as a stub)."""
    folder = scratch / "buffers"
    folder.mkdir(exist_ok=True)
    shadows: dict[str, str] = {}
    for number, (path, text) in enumerate(sorted(overlays.items())):
        shadow = folder / f"{number}{Path(path).suffix}"
        shadow.write_text(text, encoding="utf-8", newline="")
        shadows[path] = str(shadow)
    return shadows


def _unattributed_block(result: ProcessResult) -> CheckerError:
    return CheckerError(
        "mypy", "stopped with a blocking error it did not attribute to a file", result.argv,
        (result.stderr_text + "\n" + result.stdout_text).strip(),
    )
