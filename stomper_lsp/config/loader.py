"""Read settings from defaults < user config < project `[tool.stomper]` < CLI flags.

Each layer is validated on its own so an error names the file it came from.
"""

from __future__ import annotations

import difflib
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stomper_lsp.config.model import (
    COMMAND_KEYS,
    CONFINEMENT_KEYS,
    EXECUTION_KEYS,
    StomperConfig,
)
from stomper_lsp.user_dirs import user_path

_NESTED_SECTIONS = ("workflow",)


class ConfigError(Exception):
    """A settings problem, phrased for the user: which file, which key, what is valid."""


@dataclass(frozen=True)
class LoadedConfig:
    config: StomperConfig
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def user_config_path() -> Path:
    return user_path("config", "config.toml", override="STOMPER_CONFIG")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}. Fix the syntax of that file.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 ({exc}).") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}.") from exc


def _choices_hint(key: str) -> str:
    info = StomperConfig.model_fields.get(key)
    if info is None:
        return ""
    choices = [a for a in typing.get_args(info.annotation) if isinstance(a, str)]
    for arg in typing.get_args(info.annotation):
        choices += [a for a in typing.get_args(arg) if isinstance(a, str)]
    hint = f" Valid: one of {', '.join(repr(c) for c in choices)}." if choices else ""
    return hint + (f" ({info.description})" if info.description else "")


def _flatten(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Accept `[tool.stomper.workflow] max_parallel_files = 4` as well as the flat form."""
    flat = {k: v for k, v in raw.items() if k not in _NESTED_SECTIONS}
    for section in _NESTED_SECTIONS:
        nested = raw.get(section)
        if nested is None:
            continue
        if not isinstance(nested, Mapping):
            raise ConfigError(f"{where}: `{section}` must be a table of settings.")
        unknown = sorted(set(nested) - StomperConfig.model_fields.keys())
        if unknown:
            # Checked here so the message shows where the key really is.
            raise ConfigError(_unknown_key(where, unknown[0], f"{section}.{unknown[0]}"))
        flat.update(nested)
    return flat


def _unknown_key(where: str, key: str, shown_as: str) -> str:
    valid_keys = sorted(StomperConfig.model_fields)
    close = difflib.get_close_matches(key, valid_keys, n=1)
    guess = f" Did you mean '{close[0]}'?" if close else ""
    return f"{where}: unknown key '{shown_as}'.{guess} Valid keys: {', '.join(valid_keys)}."


def _validate_layer(values: dict[str, Any], where: str) -> None:
    try:
        StomperConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from None


def _format_errors(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(settings)"
        top = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            lines.append(_unknown_key(where, top, key))
        else:
            lines.append(
                f"{where}: '{key}': {error['msg']} (got {error.get('input')!r})."
                + _choices_hint(top)
            )
    return "\n".join(lines)


def _project_layer(
    root: Path, *, trust_project_commands: bool, warnings: list[str]
) -> tuple[dict[str, Any], str | None]:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}, None
    data = _read_toml(pyproject)
    tool = data.get("tool", {})
    section = tool.get("stomper") if isinstance(tool, Mapping) else None
    if section is None:
        return {}, None
    where = f"{pyproject} [tool.stomper]"
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: must be a table, e.g. `[tool.stomper]` then `key = value`.")
    values = _flatten(section, where)
    commands = COMMAND_KEYS | ({"test_command"} if not trust_project_commands else set())
    for key in sorted(commands & values.keys()):
        values.pop(key)
        warnings.append(
            f"{where}: '{key}' is ignored: a repository cannot make Stomper run a program. "
            f"Set it in {user_config_path()}, your editor settings, or on the command line."
        )
    for key in sorted(CONFINEMENT_KEYS & values.keys()):
        values.pop(key)
        warnings.append(
            f"{where}: '{key}' is ignored: a repository cannot loosen the agents' "
            f"confinement. Set it in {user_config_path()}, your editor settings, or on the "
            "command line."
        )
    for key in sorted(EXECUTION_KEYS & values.keys()):
        values.pop(key)
        warnings.append(
            f"{where}: '{key}' is ignored: a repository cannot send your code to other "
            f"machines. Set it in {user_config_path()}, your editor settings, or on the "
            "command line."
        )
    _validate_layer(values, where)
    return values, str(pyproject)


def load_config(
    project_root: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    user_settings: Mapping[str, Any] | None = None,
    trust_project_commands: bool = False,
    read_user_file: bool = True,
) -> LoadedConfig:
    """Merge every layer into one validated `StomperConfig`.

    `user_settings` are the editor's settings (same rank as the user config file, applied
    after it); `overrides` are CLI flags. `trust_project_commands` lets the project's
    `test_command` through (the CLI, run by the user in their own repository, allows it).
    """
    warnings: list[str] = []
    sources: list[str] = []
    merged: dict[str, Any] = {}
    user_file = user_config_path()
    if read_user_file and user_file.is_file():
        values = _flatten(_read_toml(user_file), str(user_file))
        _validate_layer(values, str(user_file))
        merged.update(values)
        sources.append(str(user_file))
    if user_settings:
        values = _flatten(user_settings, "editor settings")
        _validate_layer(values, "editor settings")
        merged.update(values)
        sources.append("editor settings")
    project_values, project_source = _project_layer(
        project_root, trust_project_commands=trust_project_commands, warnings=warnings
    )
    merged.update(project_values)
    if project_source:
        sources.append(project_source)
    if overrides:
        values = {k: v for k, v in overrides.items() if v is not None}
        _validate_layer(values, "command line")
        merged.update(values)
        sources.append("command line")
    try:
        config = StomperConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, "settings")) from None
    if config.agent == "command" and not config.agent_command:
        raise ConfigError(
            "agent 'command' needs agent_command (an argv template such as "
            "\"my-agent --prompt-file {prompt_file} {file}\") in your user config, editor "
            "settings or --agent-command."
        )
    return LoadedConfig(config=config, sources=sources, warnings=warnings)
