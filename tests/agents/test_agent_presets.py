"""Preset command lines as data: exact shapes, the prompt by file, flags checked in --help."""

from __future__ import annotations

from pathlib import Path

import pytest

from stomper_lsp.agents.command import render_argv
from stomper_lsp.agents.presets import INSTRUCTION, PRESETS, missing_flags
from stomper_lsp.config import AGENT_NAMES

PROMPT = Path("/runs/r1/prompts/pkg_mod.py-1234abcd-attempt1.md")
WORKDIR = Path("/sandboxes/slot-0/project")
SAID = f"Fix the issues listed in {PROMPT}; edit only files in this folder."

EXPECTED = {
    "claude": ["/bin/claude", "-p", SAID, "--output-format", "stream-json", "--verbose",
               "--permission-mode", "acceptEdits", "--add-dir", str(PROMPT.parent),
               "--no-session-persistence"],
    "cursor": ["/bin/cursor-agent", "-p", "--force", "--trust", "--output-format", "json", SAID],
    "codex": ["/bin/codex", "exec", "-C", str(WORKDIR), "--sandbox", "workspace-write",
              "--json", "--ephemeral", "--skip-git-repo-check", SAID],
    "gemini": ["/bin/gemini", "-p", SAID, "--approval-mode", "auto_edit", "--skip-trust",
               "--include-directories", str(PROMPT.parent)],
    "aider": ["/bin/aider", "--message-file", str(PROMPT), "--yes-always", "--no-git",
              "--no-auto-commits", "--no-gitignore", "--no-detect-urls", "--disable-playwright",
              "--no-check-update", "--no-show-release-notes", "--analytics-disable",
              "--no-show-model-warnings", "--map-tokens", "0", "--no-pretty",
              "--no-fancy-input", "--chat-history-file", "/dev/null",
              "--input-history-file", "/dev/null", "pkg/mod.py"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_argv_shapes(name: str) -> None:
    preset = PRESETS[name]
    argv = render_argv(
        preset.argv(f"/bin/{preset.binary}"), prompt_file=PROMPT, file="pkg/mod.py",
        workdir=WORKDIR,
    )
    assert argv == EXPECTED[name]
    assert all(len(arg) < 200 for arg in argv)  # the prompt itself never rides in argv


def test_every_preset_is_a_config_agent_name() -> None:
    assert set(PRESETS) == set(AGENT_NAMES) - {"ruff", "command"}
    assert "{prompt_file}" in INSTRUCTION


def test_required_flags_are_every_flag_passed() -> None:
    assert PRESETS["codex"].required_flags == (
        "-C", "--sandbox", "--json", "--ephemeral", "--skip-git-repo-check"
    )
    assert PRESETS["codex"].help_arguments == ("exec", "--help")
    assert "--no-detect-urls" in PRESETS["aider"].required_flags
    assert "--disable-playwright" in PRESETS["aider"].required_flags


def test_a_short_flag_is_not_found_inside_a_long_one() -> None:
    claude = PRESETS["claude"]
    help_text = (
        "Options:\n  --print  print\n  --output-format <f>\n  --permission-mode <m>\n"
        "  --verbose\n  --add-dir <d>\n  --no-session-persistence\n"
    )
    assert missing_flags(help_text, claude) == ["-p"]
    assert missing_flags("  -p, --print\n" + help_text, claude) == []
    assert "--permission-mode" in missing_flags("  -p, --print  --output-format=json", claude)
