"""Editor settings: camelCase keys from the client, checked one by one.

Editors send `{"stomper": {...}}` or the bare section, through `initializationOptions`,
`workspace/configuration` or `workspace/didChangeConfiguration`. A bad value must not cost
the user every other setting: each key is validated on its own, the bad ones are named in
a message and dropped (their defaults apply), the rest are kept.

Editor key -> meaning:

- tools, select, extendSelect, ignore, targetVersion, include, exclude, agent, python: the
  same StomperConfig keys (extend_select, target_version)
- agentCommand, testCommand, ruffPath, mypyPath: agent_command, test_command, ruff_path,
  mypy_path (editor settings are the user's own, so they may name programs)
- allowUnconfined, agentWritableDirs: allow_unconfined, agent_writable_dirs (likewise
  the user's own: they loosen the agents' confinement)
- maxParallelFiles, maxAttempts, agentTimeout, checkerTimeout, testMode,
  testBisectBudget: the snake_case keys
- lintOnChange: run ruff on unsaved changes (default true)
- debounceMs: quiet time after a keystroke before ruff runs again (default 40)
- maxFileSize: bytes; larger documents are not checked (default 1 MiB)
- logLevel: error, warning, info (default) or debug
- trustWorkspace: let the workspace's own code run (default false): its `.venv` tools and
  interpreter, its `test_command`, and the `plugins` / `python_executable` of its mypy
  config. Off, opening a folder runs nothing from it.

snake_case spellings of every key are accepted too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from stomper_lsp.config import StomperConfig
from stomper_lsp.server.log import LOG_LEVELS

SECTION = "stomper"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def camel_case(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class ServerOptions:
    """What only the language server uses (the CLI has no keystrokes to debounce)."""

    lint_on_change: bool = True
    debounce_s: float = 0.04
    max_file_size: int = 1024 * 1024
    log_level: int = logging.INFO
    trust_workspace: bool = False


@dataclass(frozen=True)
class EditorSettings:
    config: dict[str, Any] = field(default_factory=dict)
    """snake_case StomperConfig keys, each already valid on its own."""
    server: dict[str, Any] = field(default_factory=dict)
    """ServerOptions fields that were set, validated."""
    problems: list[str] = field(default_factory=list)
    """One sentence per rejected setting, naming it as the user wrote it."""


def server_options(*layers: EditorSettings) -> ServerOptions:
    """Later layers (a folder's scope) override earlier ones (the global settings)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer.server)
    return ServerOptions(**merged)


def settings_section(raw: Any) -> Mapping[str, Any]:
    """The Stomper section out of whatever the client sent (None and junk: empty)."""
    if not isinstance(raw, Mapping):
        return {}
    nested = raw.get(SECTION)
    if isinstance(nested, Mapping):
        return nested
    if isinstance(nested, list) and not nested:
        return {}  # Lua (Neovim) encodes an empty table as [] : no settings, not junk
    return raw


def _server_option(key: str, value: Any) -> tuple[str, Any]:
    """Validated (field, value) of a server-only option; raises ValueError."""
    if key in ("lint_on_change", "trust_workspace"):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return key, value
    if key == "debounce_ms":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 5000:
            raise ValueError("must be a number of milliseconds from 0 to 5000")
        return "debounce_s", float(value) / 1000
    if key == "max_file_size":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("must be a positive number of bytes")
        return key, value
    if key == "log_level":
        if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return key, LOG_LEVELS[value.lower()]
    raise KeyError(key)


# Server options only the user may set (never a workspace's own settings file).
USER_ONLY_SERVER_KEYS = frozenset({"trust_workspace"})
_SERVER_KEYS = frozenset(
    {"lint_on_change", "debounce_ms", "max_file_size", "log_level", "trust_workspace"}
)


def _config_problem(name: str, value: Any, exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"setting '{name}' is invalid: {error['msg']} (got {value!r})"


def parse_settings(raw: Any) -> EditorSettings:
    """Split and validate the client's settings; never raises."""
    section = settings_section(raw)
    config: dict[str, Any] = {}
    server: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in section.items():
        if not isinstance(name, str):
            continue
        key = snake_case(name)
        if value is None:
            continue  # an editor's way of saying "not set"
        if key in _SERVER_KEYS:
            try:
                field_name, checked = _server_option(key, value)
            except ValueError as exc:
                problems.append(f"setting '{name}' is invalid: {exc} (got {value!r})")
                continue
            server[field_name] = checked
        elif key in StomperConfig.model_fields:
            try:
                StomperConfig.model_validate({key: value})
            except ValidationError as exc:
                problems.append(_config_problem(name, value, exc))
                continue
            config[key] = value
        else:
            known = sorted({camel_case(k) for k in StomperConfig.model_fields} | {
                camel_case(k) for k in _SERVER_KEYS
            })
            problems.append(f"unknown setting '{name}'. Known settings: {', '.join(known)}")
    return EditorSettings(config=config, server=server, problems=problems)
