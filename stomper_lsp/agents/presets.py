"""Headless agent CLIs as data: how to call each one, and how to tell it is compatible.

Flags drift between CLI versions, so every flag a preset passes is looked up in the
installed CLI's `--help` before a run starts; a mismatch stops the run with a clear
message instead of failing every file. The prompt always goes by file: argv only carries
a short instruction naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.agents.base import AgentUnavailableError
from stomper_lsp.process import run_process

INSTRUCTION = "Fix the issues listed in {prompt_file}; edit only files in this folder."
HELP_TIMEOUT_S = 10.0
_HELP_OUTPUT_LIMIT = 512 * 1024

AGENT_COMMAND_HINT = (
    "Or run another agent: set agent = \"command\" and agent_command = [\"my-agent\", "
    "\"{prompt_file}\"] in your user config or editor settings (placeholders: {prompt_file}, "
    "{file}, {workdir}), or use agent = \"ruff\" for the built-in offline fixer."
)


@dataclass(frozen=True)
class Preset:
    name: str
    """The `agent` setting that selects it."""
    binary: str
    arguments: tuple[str, ...]
    """Everything after the binary; placeholders as in agent_command."""
    install: str
    help_arguments: tuple[str, ...] = ("--help",)
    """Where the flags are documented (a subcommand's help for codex)."""

    @property
    def required_flags(self) -> tuple[str, ...]:
        """Every flag the preset passes must be known to the installed CLI."""
        return tuple(a for a in self.arguments if a.startswith("-"))

    def argv(self, binary_path: str) -> list[str]:
        return [binary_path, *self.arguments]


PRESETS: Mapping[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "claude", "claude",
            ("-p", INSTRUCTION, "--output-format", "json", "--permission-mode", "acceptEdits"),
            install="npm install -g @anthropic-ai/claude-code",
        ),
        # Sometimes never exits after finishing: the agent timeout ends it.
        Preset(
            "cursor", "cursor-agent",
            ("-p", "--force", "--trust", "--output-format", "json", INSTRUCTION),
            install="curl https://cursor.com/install -fsS | bash",
        ),
        # Hangs unless stdin is closed (run_process closes it); read-only unless told.
        Preset(
            "codex", "codex",
            ("exec", "-C", "{workdir}", "--sandbox", "workspace-write", "--json", INSTRUCTION),
            install="npm install -g @openai/codex",
            help_arguments=("exec", "--help"),
        ),
        # Aborts in an untrusted new folder (every sandbox is one) without --skip-trust.
        Preset(
            "gemini", "gemini",
            ("-p", INSTRUCTION, "--approval-mode", "auto_edit", "--skip-trust"),
            install="npm install -g @google/gemini-cli",
        ),
        # Exits 0 whatever happened: only the re-check tells. Its history files and its
        # .gitignore edit would otherwise land in the sandbox and look like part of the fix.
        Preset(
            "aider", "aider",
            ("--message-file", "{prompt_file}", "--yes-always", "--no-auto-commits",
             "--no-gitignore", "--chat-history-file", "{prompt_file}.chat.md",
             "--input-history-file", "{prompt_file}.input.md", "{file}"),
            install="python -m pip install aider-install && aider-install",
        ),
    )
}


def _mentions(help_text: str, flag: str) -> bool:
    """`-p` must appear as a flag of its own, not inside `--permission-mode`."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


def missing_flags(help_text: str, preset: Preset) -> list[str]:
    return [flag for flag in preset.required_flags if not _mentions(help_text, flag)]


def _unavailable(preset: Preset, problem: str) -> AgentUnavailableError:
    return AgentUnavailableError(
        f"The {preset.name} agent cannot run: {problem} Install or update it "
        f"(`{preset.install}`). {AGENT_COMMAND_HINT}",
        agent=preset.name,
        binary=preset.binary,
    )


def missing_binary_error(preset: Preset) -> AgentUnavailableError:
    return _unavailable(preset, f"the `{preset.binary}` command is not on PATH.")


async def check_compatible(preset: Preset, binary_path: str, cwd: Path) -> None:
    """Raise AgentUnavailableError unless `binary_path`'s help lists every flag we pass."""
    help_argv = [binary_path, *preset.help_arguments]
    shown = " ".join([preset.binary, *preset.help_arguments])
    try:
        result = await run_process(
            help_argv, cwd=cwd, timeout=HELP_TIMEOUT_S, output_limit=_HELP_OUTPUT_LIMIT
        )
    except OSError as exc:
        raise _unavailable(
            preset, f"`{binary_path}` could not be started ({exc.strerror or exc})."
        ) from exc
    if result.timed_out:
        raise _unavailable(
            preset, f"`{shown}` did not answer within {HELP_TIMEOUT_S:g} s."
        )
    missing = missing_flags(result.stdout_text + "\n" + result.stderr_text, preset)
    if missing:
        raise _unavailable(
            preset,
            f"the installed `{preset.binary}` ({binary_path}) looks incompatible: `{shown}` "
            f"does not mention {', '.join(missing)}, which Stomper passes.",
        )
