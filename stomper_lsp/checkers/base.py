"""The small interface every checker implements, and the helpers they share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue


class Checker(Protocol):
    name: str
    reads_unsaved_text: bool
    """True when `overlays` are honoured (ruff via stdin); mypy reads files from disk only."""

    async def check(
        self,
        root: Path,
        paths: Sequence[str],
        overlays: Mapping[str, str] | None = None,
    ) -> list[Issue]:
        """Issues for repo-relative `paths` under `root`; raises CheckerError on failure."""
        ...


class LineTexts:
    """Reads each file's lines once, so issues can carry the text of their flagged line."""

    def __init__(self, root: Path, overlays: Mapping[str, str] | None = None) -> None:
        self._root = root
        self._overlays = overlays or {}
        self._cache: dict[str, list[str]] = {}

    def line(self, path: str, index: int) -> str:
        lines = self._cache.get(path)
        if lines is None:
            text = self._overlays.get(path)
            if text is None:
                try:
                    text = (self._root / path).read_bytes().decode("utf-8", errors="replace")
                except OSError:
                    text = ""
            lines = self._cache[path] = text.splitlines()
        return lines[index] if 0 <= index < len(lines) else ""


class ToolChecker:
    """What ruff's and mypy's checkers share: where the binary is, and how long it may run."""

    name: str

    def __init__(
        self,
        environment: ProjectEnvironment,
        *,
        explicit_path: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._environment = environment
        self._explicit_path = explicit_path
        self._timeout = timeout
        self._binary: str | None = None

    def binary(self) -> str:
        """Found once, on first use: a missing tool is reported when it is needed."""
        if self._binary is None:
            self._binary = self._environment.find_tool(self.name, self._explicit_path)
        return self._binary
