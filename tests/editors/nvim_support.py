"""Which Neovim binaries the editor tests run against, and their versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

MIN_VERSION = (0, 7, 0)
EXTRA_ENV = "STOMPER_TEST_NVIM"


def neovims() -> list[str | None]:
    """`nvim` on PATH plus $STOMPER_TEST_NVIM's entries; [None] when there is none."""
    found = [shutil.which("nvim"), *os.environ.get(EXTRA_ENV, "").split(os.pathsep)]
    unique = list(dict.fromkeys(path for path in found if path))
    return list(unique) or [None]


def neovim_version(nvim: str) -> tuple[int, int, int]:
    """The version `nvim --version` reports, (0, 0, 0) if it does not say."""
    proc = subprocess.run(
        [nvim, "--version"], capture_output=True, text=True, timeout=30, check=False,
        stdin=subprocess.DEVNULL,
    )
    match = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", proc.stdout)
    if match is None:
        return (0, 0, 0)
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)
