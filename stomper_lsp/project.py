"""A project as every front end sees it: its root, settings, environment and checkers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.files import discover_python_files, to_relative
from stomper_lsp.checkers.runner import CheckRunner, build_checkers
from stomper_lsp.config import StomperConfig, load_config


def find_project_root(start: Path) -> Path:
    """Nearest folder at or above `start` with a pyproject.toml, else the git root, else start."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    git_root: Path | None = None
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
        if (candidate / ".git").exists():
            git_root = candidate
            break
    return git_root or folder


@dataclass
class Project:
    root: Path
    config: StomperConfig
    environment: ProjectEnvironment
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        overrides: Mapping[str, Any] | None = None,
        user_settings: Mapping[str, Any] | None = None,
        trusted: bool = True,
        read_user_file: bool = True,
    ) -> Project:
        """`trusted` (the CLI, run by the user) allows the project's test command and .venv."""
        root = root.resolve()
        loaded = load_config(
            root,
            overrides=overrides,
            user_settings=user_settings,
            trust_project_commands=trusted,
            read_user_file=read_user_file,
        )
        environment = ProjectEnvironment(root, python=loaded.config.python, trusted=trusted)
        return cls(root, loaded.config, environment, list(loaded.warnings))

    def check_runner(self, *, mypy_cache_dir: Path | None = None) -> CheckRunner:
        return CheckRunner(
            build_checkers(self.config, self.environment, mypy_cache_dir=mypy_cache_dir),
            self.config,
        )

    def relative(self, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
        """Repo-relative POSIX paths; raises PathOutsideProjectError for foreign paths."""
        return [to_relative(self.root, os.fspath(p)) for p in paths]

    async def python_files(self, paths: Sequence[str] = ()) -> list[str]:
        return await discover_python_files(
            self.root, paths=paths, include=self.config.include, exclude=self.config.exclude
        )
