"""Turn the `agent` setting into a ready agent, failing BEFORE a run if it cannot work.

A missing or incompatible CLI found mid-run would fail every file one timeout at a time;
found here, it is one clear message the user can act on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from stomper_lsp.agents.base import Agent, AgentUnavailableError
from stomper_lsp.agents.command import PLACEHOLDERS, CommandAgent
from stomper_lsp.agents.presets import (
    AGENT_COMMAND_HINT,
    PRESETS,
    aider_model_configured,
    check_compatible,
    missing_binary_error,
)
from stomper_lsp.agents.ruff_fix import RuffFixAgent
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.errors import ToolNotFoundError
from stomper_lsp.checkers.runner import IssueFilter, rule_selection
from stomper_lsp.config import StomperConfig


async def build_agent(config: StomperConfig, environment: ProjectEnvironment) -> Agent:
    """The agent `config.agent` names; raises AgentUnavailableError if it cannot run."""
    if config.agent == "ruff":
        try:
            return RuffFixAgent(
                environment.find_tool("ruff", config.ruff_path),
                keep=IssueFilter(config),
                selection=rule_selection(config),
            )
        except ToolNotFoundError as exc:
            raise AgentUnavailableError(
                f"The built-in ruff agent cannot run: {exc.problem}", agent="ruff", binary="ruff"
            ) from exc
    if config.agent == "command":
        return _command_agent(config, environment.root)
    preset = PRESETS[config.agent]
    binary_path = shutil.which(preset.binary)
    if binary_path is None:
        raise missing_binary_error(preset)
    if preset.name == "aider" and not aider_model_configured():
        raise AgentUnavailableError(
            "The aider agent has no model configured, and without one Aider opens a browser "
            "login and waits for minutes. Set AIDER_MODEL (for example openai/gpt-4.1 with "
            "OPENAI_API_KEY; OPENAI_API_BASE points it at a gateway or a local server) or "
            "`model:` in ~/.aider.conf.yml. See docs/agents.md.",
            agent="aider", binary=preset.binary,
        )
    await check_compatible(preset, binary_path, environment.root)
    return CommandAgent(
        preset.name, preset.argv(binary_path),
        state_dirs=preset.expanded_state_dirs(), environment=preset.agent_environment(),
        when_confined=dict(preset.when_confined),
    )


def _command_agent(config: StomperConfig, root: Path) -> CommandAgent:
    if not config.agent_command:
        raise AgentUnavailableError(
            'agent = "command" needs agent_command, an argv list such as '
            '["my-agent", "--prompt", "{prompt_file}", "{file}"], set in your user config, '
            'editor settings or on the command line (never from the repository), or pick '
            'a built-in agent: "ruff", "claude", "cursor", "codex", "gemini" or "aider".',
            agent="command",
        )
    program, *rest = config.agent_command
    resolved = resolve_program(program, root)
    if resolved is None:
        raise AgentUnavailableError(
            f"The command agent cannot run: the program {program!r} of agent_command is "
            f"neither an executable file nor a command on PATH. Fix agent_command. "
            f"{AGENT_COMMAND_HINT}",
            agent="command",
            binary=program,
        )
    return CommandAgent("command", [resolved, *rest])


def resolve_program(program: str, root: Path) -> str | None:
    """An absolute path for `program` (a relative path is taken from the project root), or
    None if it does not exist. A program built from placeholders is checked at run time."""
    if any(placeholder in program for placeholder in PLACEHOLDERS):
        return program
    expanded = os.path.expanduser(program)
    if os.sep not in expanded:
        return shutil.which(expanded)
    path = Path(expanded)
    if not path.is_absolute():
        path = root / path
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None
