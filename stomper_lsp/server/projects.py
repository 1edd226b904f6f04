"""Workspace folders, their settings, and the Stomper project each one maps to.

Each workspace folder is one project (root: the folder, or the enclosing project when the
folder is a sub-folder of one) with its own settings: the client's global settings,
overridden by that folder's `workspace/configuration` scope, with the repository's
`[tool.stomper]` merged by `Project.load(trusted=False)` (which drops every key that
would make Stomper run a program, never runs binaries from the repository's .venv, and
gives mypy the repository's config without its plugins and python_executable) unless the
user set `trustWorkspace`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.ruff import RuffChecker
from stomper_lsp.checkers.runner import CheckRunner
from stomper_lsp.config import ConfigError, StomperConfig
from stomper_lsp.project import Project, find_project_root
from stomper_lsp.server.notices import Notices
from stomper_lsp.server.settings import (
    EditorSettings,
    ServerOptions,
    parse_settings,
    server_options,
)


def uri_to_path(uri: str) -> Path | None:
    """The local path of a `file:` URI; None for every other scheme (untitled:, git:...)."""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def path_to_uri(path: Path) -> str:
    uri = from_fs_path(str(path))
    if uri is None:  # only for relative paths, which never reach here
        raise ValueError(f"not an absolute path: {path}")
    return str(uri)


def mypy_cache_dir(root: Path) -> Path:
    """mypy's incremental cache for one project, outside the workspace (invariant 2)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:16]
    return Path(base) / "stomper" / "mypy" / digest


@dataclass
class Folder:
    uri: str
    path: Path
    settings: EditorSettings
    implicit: bool = False
    """Made up for a file opened without any workspace folder."""


@dataclass
class ProjectHandle:
    """A loaded project with its per-tool runners (ruff and mypy run on different triggers)."""

    folder: Folder
    project: Project
    ruff: CheckRunner | None
    mypy: CheckRunner | None
    options: ServerOptions

    @property
    def root(self) -> Path:
        return self.project.root

    def _ruff_checkers(self) -> list[RuffChecker]:
        checkers = self.ruff.checkers if self.ruff is not None else []
        return [c for c in checkers if isinstance(c, RuffChecker)]

    def start_ahead(self) -> None:
        """Each keystroke's ruff started before it (checkers/warm_ruff.py)."""
        for checker in self._ruff_checkers():
            checker.start_ahead()

    def forget(self, path: Path) -> None:
        """A document closed: no ruff waits for its next keystroke."""
        for checker in self._ruff_checkers():
            checker.forget(path)

    def close(self) -> None:
        """Dropped (settings changed, folder removed) or shutting down: no ruff waits."""
        for checker in self._ruff_checkers():
            checker.close()

    def relative(self, path: Path) -> str | None:
        """Project-relative POSIX path, or None when `path` is not inside the folder."""
        try:
            path.relative_to(self.folder.path)
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None


def _runner_for(runner: CheckRunner, tool: str, config: StomperConfig) -> CheckRunner | None:
    checkers = [c for c in runner.checkers if c.name == tool]
    return CheckRunner(checkers, config) if checkers else None


class ProjectRegistry:
    def __init__(self, notices: Notices) -> None:
        self._notices = notices
        self.global_settings = EditorSettings()
        self._folders: dict[str, Folder] = {}
        self._handles: dict[str, ProjectHandle] = {}

    # ----- folders and settings -------------------------------------------------------
    def set_folders(self, folders: Iterable[types.WorkspaceFolder]) -> None:
        self._folders = {}
        for folder in folders:
            self.add_folder(folder)

    def add_folder(self, folder: types.WorkspaceFolder) -> None:
        path = uri_to_path(folder.uri)
        if path is not None:
            self._folders[folder.uri] = Folder(folder.uri, path.resolve(), EditorSettings())
            self._drop(folder.uri)

    def remove_folder(self, uri: str) -> None:
        self._folders.pop(uri, None)
        self._drop(uri)

    def _drop(self, uri: str) -> None:
        handle = self._handles.pop(uri, None)
        if handle is not None:
            handle.close()

    @property
    def folders(self) -> list[Folder]:
        return list(self._folders.values())

    def set_global_settings(self, raw: object) -> None:
        self.global_settings = parse_settings(raw)
        self.reset()

    def set_folder_settings(self, uri: str, raw: object) -> None:
        folder = self._folders.get(uri)
        if folder is not None:
            folder.settings = parse_settings(raw)
            self._drop(uri)

    def reset(self) -> None:
        """Forget loaded projects (settings or a pyproject changed); they reload on demand."""
        self.close()
        self._notices.forget()

    def close(self) -> None:
        """Drop every loaded project (the server shuts down, or `reset`)."""
        for uri in list(self._handles):
            self._drop(uri)

    # ----- lookups ----------------------------------------------------------------------
    def folder_for(self, path: Path, *, opened: bool = False) -> Folder | None:
        """The innermost workspace folder holding `path`. In a folder-less session, a
        document being `opened` gets an implicit folder at its project root (commands
        never create one: a URI argument must not make an arbitrary folder a project)."""
        best: Folder | None = None
        for folder in self._folders.values():
            if path.is_relative_to(folder.path) and (
                best is None or len(folder.path.parts) > len(best.path.parts)
            ):
                best = folder
        if best is None and opened and not any(not f.implicit for f in self._folders.values()):
            root = find_project_root(path)
            uri = path_to_uri(root)
            best = Folder(uri, root, EditorSettings(), implicit=True)
            self._folders[uri] = best
        return best

    def folder_by_uri(self, uri: str) -> Folder | None:
        if uri in self._folders:
            return self._folders[uri]
        path = uri_to_path(uri)
        return self.folder_for(path.resolve()) if path else None

    def handle_for_path(self, path: Path, *, opened: bool = False) -> ProjectHandle | None:
        folder = self.folder_for(path, opened=opened)
        return self.handle(folder) if folder else None

    def handle(self, folder: Folder) -> ProjectHandle:
        handle = self._handles.get(folder.uri)
        if handle is None:
            handle = self._handles[folder.uri] = self._load(folder)
        return handle

    def report_problems(self) -> None:
        """Name every rejected setting once: the user sees why their value did nothing."""
        layers = [("", self.global_settings)] + [(f.uri, f.settings) for f in self.folders]
        for scope, settings in layers:
            for problem in settings.problems:
                where = f" (folder {Path(scope).name})" if scope else ""
                self._notices.once(
                    f"settings:{scope}:{problem}",
                    f"Stomper: {problem}{where}. Using its default.",
                    types.MessageType.Warning,
                )

    def _settings(self, folder: Folder) -> tuple[dict[str, object], ServerOptions]:
        merged = {**self.global_settings.config, **folder.settings.config}
        return merged, server_options(self.global_settings, folder.settings)

    def _load(self, folder: Folder) -> ProjectHandle:
        settings, options = self._settings(folder)
        root = find_project_root(folder.path)
        try:
            project = Project.load(
                root, user_settings=settings, trusted=options.trust_workspace
            )
        except ConfigError as exc:
            project, fallback = _fallback_project(root, settings, options.trust_workspace)
            self._notices.once(
                f"config:{root}:{exc}",
                f"Stomper settings problem: {exc} {fallback} until this is fixed.",
                types.MessageType.Warning,
            )
        for warning in project.warnings:
            self._notices.once(
                f"warning:{root}:{warning}", f"Stomper: {warning}", types.MessageType.Warning
            )
        runner = project.check_runner(mypy_cache_dir=mypy_cache_dir(root))
        handle = ProjectHandle(
            folder=folder,
            project=project,
            ruff=_runner_for(runner, "ruff", project.config),
            mypy=_runner_for(runner, "mypy", project.config),
            options=options,
        )
        handle.start_ahead()
        return handle


def _fallback_project(
    root: Path, settings: dict[str, object], trusted: bool
) -> tuple[Project, str]:
    """A usable project despite a settings error, and what it falls back to.

    The usual error is a repository choosing the `command` agent, whose command line it
    may not give: the repository's other settings still apply, with the editor's agent
    (or the built-in one). Anything else: the editor settings alone.
    """
    agent = settings.get("agent")
    if agent is None or (agent == "command" and not settings.get("agent_command")):
        agent = "ruff"
    try:
        project = Project.load(
            root, user_settings=settings, overrides={"agent": agent}, trusted=trusted
        )
        return project, f"Using the {agent!r} agent"
    except ConfigError:
        pass
    try:
        config = StomperConfig.model_validate(settings)
    except ValueError:
        config = StomperConfig.model_validate({})
    environment = ProjectEnvironment(root, python=config.python, trusted=trusted)
    return Project(root, config, environment, []), "Using your editor settings alone"
