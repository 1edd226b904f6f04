"""Where Stomper keeps the user's own files, XDG-style, each overridable by one variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

_XDG = {"config": ("XDG_CONFIG_HOME", ".config"), "cache": ("XDG_CACHE_HOME", ".cache")}


def user_path(kind: Literal["config", "cache"], name: str, *, override: str) -> Path:
    """`$override` if set, else `$XDG_<KIND>_HOME/stomper/<name>` (default `~/.<kind>`)."""
    explicit = os.environ.get(override)
    if explicit:
        return Path(explicit)
    variable, default = _XDG[kind]
    base = os.environ.get(variable) or str(Path.home() / default)
    return Path(base) / "stomper" / name
