"""`stomper agents`: each agent CLI found or not, its version, flags and model set-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STOMPER = str(Path(sys.executable).parent / "stomper")


def agents(tmp_path: Path, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
    full = {**os.environ, "HOME": str(tmp_path)}
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "AIDER_MODEL",
                "CODEX_HOME", "CLAUDE_CONFIG_DIR", "CURSOR_API_KEY", "GOOGLE_API_KEY"):
        full.pop(key, None)
    proc = subprocess.run([STOMPER, "agents", "--json"], env={**full, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, {a["name"]: a for a in json.loads(proc.stdout)}


def test_a_cli_not_on_path_says_how_to_install(tmp_path: Path) -> None:
    code, found = agents(tmp_path, PATH=str(tmp_path))
    assert code == 1
    assert set(found) == {"claude", "codex", "gemini", "aider", "cursor"}
    claude = found["claude"]
    assert (claude["path"], claude["ready"]) == (None, False)
    assert any("npm install -g @anthropic-ai/claude-code" in p for p in claude["problems"])
    assert any("ANTHROPIC_API_KEY" in p for p in claude["problems"])


@pytest.mark.skipif(shutil.which("claude") is None, reason="the claude CLI is not installed")
def test_an_installed_cli_with_a_key_is_ready(tmp_path: Path) -> None:
    code, found = agents(tmp_path, ANTHROPIC_API_KEY="sk-test")
    claude = found["claude"]
    assert code == 0
    assert claude["ready"] and claude["flags_compatible"] and claude["endpoint_configured"]
    assert claude["version"] and claude["version"][0].isdigit()
    assert found["gemini"]["endpoint_configured"] is False
