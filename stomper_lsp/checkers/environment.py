"""Find the tools and the interpreter the way users expect.

Order: an explicit setting, then the project's own environment (the configured interpreter's
folder, `.venv`, `venv`), then the copy installed next to Stomper, then PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.checkers.errors import ToolNotFoundError

_VENV_NAMES = (".venv", "venv")
_BIN = "Scripts" if os.name == "nt" else "bin"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class ProjectEnvironment:
    """Where a project's tools live. `trusted=False` never runs binaries from the project."""

    root: Path
    python: str | None = None
    trusted: bool = True

    def project_python(self) -> str | None:
        """The interpreter whose site-packages hold the project's third-party imports."""
        if self.python:
            return self.python
        if not self.trusted:
            return None
        for name in _VENV_NAMES:
            candidate = self.root / name / _BIN / "python"
            if _executable(candidate):
                return str(candidate)
        return None

    def find_tool(self, name: str, explicit: str | None = None) -> str:
        if explicit:
            path = Path(explicit).expanduser()
            if _executable(path):
                return str(path)
            found = shutil.which(explicit)
            if found:
                return found
            raise ToolNotFoundError(
                name,
                f"the configured path {explicit!r} ({name}_path) is not an executable file. "
                f"Fix the setting or remove it to use the {name} installed with Stomper.",
            )
        candidates: list[Path] = []
        python = self.project_python()
        if python:
            candidates.append(Path(python).parent / name)
        # Next to the running interpreter (no resolve(): a venv's python is a symlink).
        candidates.append(Path(sys.executable).parent / name)
        for candidate in candidates:
            if _executable(candidate):
                return str(candidate)
        found = shutil.which(name)
        if found:
            return found
        raise ToolNotFoundError(
            name,
            f"{name} was not found in the project's environment, next to Stomper "
            f"({Path(sys.executable).parent}) or on PATH. Install it (`pip install {name}`), "
            f"set {name}_path, or drop it from `tools`.",
        )
