"""build_agent finds out BEFORE a run whether the configured agent can work at all."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from agents_support import FAKE_AGENT

from stomper_lsp.agents import presets
from stomper_lsp.agents.base import AgentTask, AgentUnavailableError
from stomper_lsp.agents.command import CommandAgent
from stomper_lsp.agents.registry import build_agent
from stomper_lsp.agents.ruff_fix import RuffFixAgent
from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue, Position
from stomper_lsp.config import StomperConfig

CLAUDE_HELP = """Usage: claude [options] [command] [prompt]
Options:
  -p, --print                 Print response and exit
  --output-format <format>    "text", "json" or "stream-json"
  --permission-mode <mode>    Permission mode for the session
  --verbose                   Override verbose mode setting from config
  --add-dir <directories...>  Additional directories to allow tool access to
  --no-session-persistence    Disable session persistence
"""
CODEX_TOP_HELP = "Usage: codex [OPTIONS] [PROMPT]\nCommands:\n  exec  Run Codex non-interactively\n"
CODEX_EXEC_HELP = """Usage: codex exec [OPTIONS] [PROMPT]
  -C, --cd <DIR>            Working root directory
  -s, --sandbox <MODE>      read-only, workspace-write, danger-full-access
      --json                Print events to stdout as JSONL
      --ephemeral           Run without persisting session files to disk
      --skip-git-repo-check Allow running outside a Git repository
"""


def _fake_cli(bin_dir: Path, name: str, help_text: str, *, record: Path | None = None,
              help_needs: tuple[str, ...] = ("--help",), hang: bool = False) -> Path:
    """An executable that answers `help_needs` with `help_text`; otherwise records its argv
    and the prompt file it was pointed at."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f"""#!{sys.executable}
import json, re, sys, time
if sys.argv[1:] == {list(help_needs)!r}:
    if {hang!r}:
        time.sleep(60)
    print({help_text!r})
    sys.exit(0)
if "--help" in sys.argv:
    print("Usage: {name} [OPTIONS]")
    sys.exit(0)
said = " ".join(sys.argv[1:])
match = re.search(r"listed in (\\S+\\.md);", said)
prompt = open(match.group(1)).read() if match else None
with open({str(record)!r}, "w") as out:
    json.dump({{"argv": sys.argv, "prompt": prompt}}, out)
""")
    script.chmod(0o755)
    return script


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only this folder: no real agent CLI can be found by accident."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


async def test_ruff_is_the_default_and_needs_ruff(project: Path, tmp_path: Path) -> None:
    agent = await build_agent(StomperConfig(), ProjectEnvironment(project))
    assert isinstance(agent, RuffFixAgent)
    assert os.access(agent.ruff, os.X_OK)

    with pytest.raises(AgentUnavailableError, match="ruff_path"):
        await build_agent(
            StomperConfig(ruff_path=str(tmp_path / "no-ruff")), ProjectEnvironment(project)
        )


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
async def test_a_missing_preset_binary_is_named(name: str, project: Path, bin_dir: Path) -> None:
    with pytest.raises(AgentUnavailableError) as caught:
        config = StomperConfig.model_validate({"agent": name})
        await build_agent(config, ProjectEnvironment(project))
    message = str(caught.value)
    binary = presets.PRESETS[name].binary
    assert f"`{binary}` command is not on PATH" in message
    assert presets.PRESETS[name].install in message
    assert "agent_command" in message
    assert caught.value.binary == binary


async def test_an_incompatible_cli_names_the_missing_flag(project: Path, bin_dir: Path) -> None:
    old_help = "\n".join(line for line in CLAUDE_HELP.splitlines() if "permission" not in line)
    _fake_cli(bin_dir, "claude", old_help)
    with pytest.raises(AgentUnavailableError) as caught:
        await build_agent(StomperConfig(agent="claude"), ProjectEnvironment(project))
    message = str(caught.value)
    assert "looks incompatible" in message
    assert "`claude --help` does not mention --permission-mode, which" in message


async def test_a_help_that_never_answers_is_reported(
    project: Path, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presets, "HELP_TIMEOUT_S", 0.5)
    _fake_cli(bin_dir, "gemini", "-p --approval-mode --skip-trust", hang=True)
    with pytest.raises(AgentUnavailableError, match=r"did not answer within 0\.5 s"):
        await build_agent(StomperConfig(agent="gemini"), ProjectEnvironment(project))


async def test_codex_flags_are_looked_up_in_the_exec_help(project: Path, bin_dir: Path) -> None:
    _fake_cli(bin_dir, "codex", CODEX_TOP_HELP + CODEX_EXEC_HELP, help_needs=("exec", "--help"))
    agent = await build_agent(StomperConfig(agent="codex"), ProjectEnvironment(project))
    assert isinstance(agent, CommandAgent)
    assert agent.argv_template[:3] == (str(bin_dir / "codex"), "exec", "-C")


async def test_a_compatible_preset_runs_with_the_prompt_in_a_file(
    project: Path, bin_dir: Path, tmp_path: Path
) -> None:
    record = tmp_path / "claude-argv.json"
    _fake_cli(bin_dir, "claude", CLAUDE_HELP, record=record)
    agent = await build_agent(StomperConfig(agent="claude"), ProjectEnvironment(project))
    assert isinstance(agent, CommandAgent) and agent.name == "claude"

    (project / "mod.py").write_text("x: int = 'a'\n")
    issue = Issue(path="mod.py", start=Position(line=0, character=9),
                  end=Position(line=0, character=12), tool="mypy", code="assignment",
                  message='Incompatible types in assignment (expression has type "str", '
                  'variable has type "int")')
    result = await agent.fix(AgentTask(workdir=project, target="mod.py", issues=[issue],
                                       attempt=1, prompt_dir=tmp_path / "prompts"))

    assert result.exit_code == 0
    seen = json.loads(record.read_text())
    assert seen["argv"][1] == "-p"
    assert seen["argv"][2].startswith(f"Fix the issues listed in {tmp_path / 'prompts'}/")
    assert seen["argv"][3:] == [
        "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
        "--add-dir", str(tmp_path / "prompts"), "--no-session-persistence",
    ]
    assert agent.state_dirs and agent.environment.get("CLAUDE_CONFIG_DIR") in (
        None, str(Path.home() / ".claude")
    )
    assert "Incompatible types in assignment" in seen["prompt"]
    assert "Incompatible" not in " ".join(seen["argv"])


async def test_the_command_agent_needs_a_command(project: Path) -> None:
    with pytest.raises(AgentUnavailableError, match="needs agent_command"):
        await build_agent(StomperConfig(agent="command"), ProjectEnvironment(project))


async def test_the_command_agent_program_must_exist(project: Path, bin_dir: Path) -> None:
    config = StomperConfig(agent="command", agent_command=["no-such-agent", "{prompt_file}"])
    with pytest.raises(AgentUnavailableError, match="'no-such-agent'"):
        await build_agent(config, ProjectEnvironment(project))


async def test_the_command_agent_resolves_its_program(project: Path, bin_dir: Path) -> None:
    tools = project / "tools"
    tools.mkdir()
    (tools / "agent").symlink_to(FAKE_AGENT)
    relative = StomperConfig(agent="command", agent_command="tools/agent {file} --sleep 0")
    agent = await build_agent(relative, ProjectEnvironment(project))
    assert isinstance(agent, CommandAgent)
    assert agent.argv_template == (str(project / "tools" / "agent"), "{file}", "--sleep", "0")

    (bin_dir / "my-agent").symlink_to(FAKE_AGENT)
    on_path = StomperConfig(agent="command", agent_command=["my-agent", "{file}"])
    agent = await build_agent(on_path, ProjectEnvironment(project))
    assert isinstance(agent, CommandAgent)
    assert agent.argv_template[0] == str(bin_dir / "my-agent")
