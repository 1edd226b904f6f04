"""mypy's configuration without the keys that run a repository's code.

mypy imports the modules a config names in `plugins` and runs `python_executable` (and,
with `install_types`, pip) as soon as it checks a file. Opening a folder must never run
code from it, so for an untrusted project mypy gets a copy of the config it would have
read, found the way mypy finds it, minus those keys. Everything else (strictness, per-module
overrides, paths) stays, and `$MYPY_CONFIG_FILE_DIR` still means the original folder.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stomper_lsp.user_dirs import user_path

CODE_RUNNING_KEYS = frozenset({"plugins", "python_executable", "install_types"})
_OWN_NAMES = ("mypy.ini", ".mypy.ini")
_SHARED_NAMES = ("pyproject.toml", "setup.cfg")
_DIR_VARIABLES = ("${MYPY_CONFIG_FILE_DIR}", "$MYPY_CONFIG_FILE_DIR")


def find_config(cwd: Path) -> Path | None:
    """The project config mypy reads when started in `cwd` (mypy 1.x's own search: each
    folder up to the repository's top, own names before shared ones), or None."""
    current = cwd.resolve()
    while True:
        for name in _OWN_NAMES + _SHARED_NAMES:
            candidate = current / name
            if candidate.is_file() and _has_mypy_section(candidate):
                return candidate
        if (current / ".git").exists() or (current / ".hg").exists():
            return None
        if current.parent == current:
            return None
        current = current.parent


def _has_mypy_section(path: Path) -> bool:
    if path.name in _OWN_NAMES:
        return True
    try:
        if path.suffix == ".toml":
            return "mypy" in tomllib.loads(path.read_text("utf-8")).get("tool", {})
        parser = configparser.RawConfigParser()
        parser.read(path, encoding="utf-8")
        return parser.has_section("mypy")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return False  # mypy reports a broken file itself


def sanitized_config(cwd: Path, scratch: Path) -> Path | None:
    """A copy of the config mypy would read from `cwd`, without code-running keys, when the
    original has any; None when mypy may read the project's config as it is."""
    found = find_config(cwd)
    if found is None:
        return None
    try:
        text = found.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    folder = str(found.parent)
    if found.suffix == ".toml":
        rendered = _sanitize_toml(text, folder)
        name = "pyproject.toml"
    else:
        rendered = _sanitize_ini(text, folder)
        name = "mypy.ini"
    if rendered is None:
        return None
    target = scratch / hashlib.sha256(str(found).encode()).hexdigest()[:16] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if target.read_text("utf-8") == rendered:
            return target
    except FileNotFoundError:
        pass
    target.write_text(rendered, encoding="utf-8")
    return target


def _expand(value: Any, folder: str) -> Any:
    if isinstance(value, str):
        for variable in _DIR_VARIABLES:
            value = value.replace(variable, folder)
        return value
    if isinstance(value, list):
        return [_expand(item, folder) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, folder) for key, item in value.items()}
    return value


def _strip(section: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    kept = {k: v for k, v in section.items() if k.replace("-", "_") not in CODE_RUNNING_KEYS}
    return kept, len(kept) != len(section)


def _sanitize_toml(text: str, folder: str) -> str | None:
    try:
        mypy = tomllib.loads(text).get("tool", {}).get("mypy", {})
    except tomllib.TOMLDecodeError:
        return None
    settings, stripped = _strip(mypy)
    overrides: list[dict[str, Any]] = []
    for override in settings.pop("overrides", []) or []:
        kept, dropped = _strip(override)
        stripped = stripped or dropped
        overrides.append(kept)
    if not stripped:
        return None
    lines = ["[tool.mypy]"]
    lines += [f"{key} = {_toml_value(_expand(value, folder))}" for key, value in settings.items()]
    for override in overrides:
        lines.append("\n[[tool.mypy.overrides]]")
        lines += [
            f"{key} = {_toml_value(_expand(value, folder))}" for key, value in override.items()
        ]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _sanitize_ini(text: str, folder: str) -> str | None:
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    clean = configparser.RawConfigParser()
    stripped = False
    for name in parser.sections():
        if name != "mypy" and not name.startswith("mypy-"):
            continue
        kept, dropped = _strip(dict(parser.items(name)))
        stripped = stripped or dropped
        clean.add_section(name)
        for key, value in kept.items():
            clean.set(name, key, _expand(value, folder))
    if not stripped:
        return None
    out = io.StringIO()
    clean.write(out)
    return out.getvalue()


def scratch_dir() -> Path:
    """Where sanitized copies live: the user's cache, outside every workspace."""
    return user_path("cache", "mypy-config", override="STOMPER_MYPY_CONFIG_DIR") / str(
        os.getuid() if hasattr(os, "getuid") else 0
    )
