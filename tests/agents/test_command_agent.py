"""CommandAgent runs a real executable: placeholders, closed stdin, group kill, bounded log."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.agents.command import CommandAgent, render_argv
from stomper_lsp.checkers.model import Issue, Position
from tests.processes import is_dead


def _issue(message: str = "Name `undefined_thing` is not defined") -> Issue:
    return Issue(
        path="pkg/mod.py", start=Position(line=2, character=4),
        end=Position(line=2, character=9), tool="mypy", code="name-defined", message=message,
    )


def _task(project: Path, tmp_path: Path, **changes: Any) -> AgentTask:
    task = AgentTask(
        workdir=project, target="pkg/mod.py", issues=[_issue()], attempt=1,
        log_path=tmp_path / "logs" / "pkg_mod.log", timeout=30.0,
        prompt_dir=tmp_path / "prompts",
    )
    return dataclasses.replace(task, **changes)


@pytest.fixture
def pkg(project: Path) -> Path:
    (project / "pkg").mkdir()
    (project / "pkg" / "mod.py").write_text("x = 1\n")
    return project


def test_render_argv_substitutes_inside_elements_and_keeps_other_braces() -> None:
    argv = render_argv(
        ["agent", "--prompt={prompt_file}", "{file}", "-C", "{workdir}", '{"json": 1}'],
        prompt_file=Path("/p/prompt.md"), file="pkg/mod.py", workdir=Path("/w"),
    )
    assert argv == ["agent", "--prompt=/p/prompt.md", "pkg/mod.py", "-C", "/w", '{"json": 1}']


async def test_placeholders_cwd_and_prompt_by_file(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    record = tmp_path / "argv.json"
    agent = CommandAgent("command", [
        *fake_agent, "{file}", "--record-argv", str(record), "--prompt", "{prompt_file}",
        "--where={workdir}", "--replace", "x = 1", "x = 2",
    ])
    result = await agent.fix(_task(pkg, tmp_path))

    assert result.exit_code == 0 and not result.timed_out
    assert (pkg / "pkg" / "mod.py").read_text() == "x = 2\n"
    seen = json.loads(record.read_text())
    prompt_file = Path(seen["argv"][seen["argv"].index("--prompt") + 1])
    assert seen["cwd"] == str(pkg.resolve())
    assert seen["argv"][1] == "pkg/mod.py"  # argv[0] is the script
    assert f"--where={pkg.resolve()}" in seen["argv"]
    assert prompt_file.is_absolute() and prompt_file.parent == (tmp_path / "prompts").resolve()
    # The issue travels in the file, never in argv.
    assert "undefined_thing" in seen["prompt"] and "name-defined" in seen["prompt"]
    assert not any("undefined_thing" in arg for arg in seen["argv"])


async def test_the_prompt_is_written_only_for_a_command_that_names_it(
    pkg: Path, tmp_path: Path
) -> None:
    """A command with neither `{prompt_file}` nor `{prompt_dir}` cannot find the prompt:
    writing it would only cost each file a file."""
    silent = CommandAgent("command", ["sed", "-i", "s/x = 1/x = 2/", "{file}"])
    result = await silent.fix(_task(pkg, tmp_path))
    assert result.exit_code == 0 and (pkg / "pkg" / "mod.py").read_text() == "x = 2\n"
    assert not (tmp_path / "prompts").exists() or not any((tmp_path / "prompts").iterdir())
    by_dir = CommandAgent("command", ["sh", "-c", 'ls "$1" > "$2"', "-", "{prompt_dir}",
                                      str(tmp_path / "listed")])
    await by_dir.fix(_task(pkg, tmp_path))
    assert (tmp_path / "listed").read_text().strip().endswith("-attempt1.md")


async def test_default_prompt_dir_is_temporary_and_outside_the_sandbox(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    record = tmp_path / "argv.json"
    agent = CommandAgent("command", [*fake_agent, "{file}", "--record-argv", str(record),
                                     "{prompt_file}"])
    await agent.fix(_task(pkg, tmp_path, prompt_dir=None))

    seen = json.loads(record.read_text())
    prompt_file = Path(seen["argv"][-1])
    assert "undefined_thing" in seen["prompt"]
    assert not prompt_file.is_relative_to(pkg.resolve())
    assert not prompt_file.exists()  # removed once the attempt is over


async def test_stdin_is_closed(pkg: Path, tmp_path: Path, fake_agent: list[str]) -> None:
    record = tmp_path / "stdin.json"
    agent = CommandAgent("command", [*fake_agent, "--read-stdin", "--stdin-record", str(record)])
    started = time.monotonic()
    result = await agent.fix(_task(pkg, tmp_path, timeout=20.0))

    assert result.exit_code == 0
    assert json.loads(record.read_text()) == {"state": "eof", "data": ""}
    assert time.monotonic() - started < 10  # EOF at once, not a wait for the timeout


async def test_timeout_kills_the_whole_process_group(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    pids = tmp_path / "pids"
    agent = CommandAgent("command", [*fake_agent, "{file}", "--hang", "--pid-dir", str(pids)])
    result = await agent.fix(_task(pkg, tmp_path, timeout=1.5))

    assert result.timed_out and result.exit_code is None
    assert result.summary == "killed after the 1.5 s timeout"
    agent_pid = int((pids / "agent.pid").read_text())
    child_pid = int((pids / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while not (is_dead(agent_pid) and is_dead(child_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert is_dead(agent_pid) and is_dead(child_pid)
    assert "timed out: yes" in (tmp_path / "logs" / "pkg_mod.log").read_text()


async def test_megabytes_of_output_are_bounded_in_the_log(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    agent = CommandAgent("command", [*fake_agent, "--spew", "6"], output_limit=1024 * 1024)
    result = await agent.fix(_task(pkg, tmp_path))

    assert result.exit_code == 0
    log = tmp_path / "logs" / "pkg_mod.log"
    assert log.stat().st_size < 1.1 * 1024 * 1024
    text = log.read_text()
    assert "output truncated by Stomper" in text
    # The output streamed in as it came (head), then its end, then how the run ended.
    output, ending = text.split("----- end of output -----")
    assert output.rstrip().endswith("fake agent: done")  # the tail is kept
    assert "summary: exit 0" in ending


async def test_log_gets_a_header_per_attempt_and_the_crash(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    agent = CommandAgent("command", [*fake_agent, "{file}", "--append", "y = 1\\n", "--crash"])
    first = await agent.fix(_task(pkg, tmp_path))
    second = await agent.fix(_task(pkg, tmp_path, attempt=2))

    assert first.exit_code == 3 and second.exit_code == 3
    assert first.summary.startswith("exit 3 after ")
    assert (pkg / "pkg" / "mod.py").read_text() == "x = 1\ny = 1\ny = 1\n"  # edits happened
    log = (tmp_path / "logs" / "pkg_mod.log").read_text()
    assert "command agent, attempt 1 on pkg/mod.py" in log
    assert "command agent, attempt 2 on pkg/mod.py" in log
    assert log.count("exit code: 3") == 2 and log.count("duration: ") == 2
    assert log.count("timed out: no") == 2
    assert "RuntimeError: fake agent crashed on purpose" in log
    assert "argv: " in log and "--crash" in log


async def test_a_missing_binary_is_a_failed_attempt_not_an_exception(
    pkg: Path, tmp_path: Path
) -> None:
    agent = CommandAgent("command", [str(tmp_path / "gone" / "agent"), "{file}"])
    result = await agent.fix(_task(pkg, tmp_path))

    assert result.exit_code is None and not result.timed_out
    assert "could not start" in result.summary and "gone/agent" in result.summary
    assert "could not start" in (tmp_path / "logs" / "pkg_mod.log").read_text()


async def test_git_redirect_variables_do_not_reach_the_agent(
    pkg: Path, tmp_path: Path, fake_agent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a git hook, GIT_DIR would point the agent's git at the user's repository."""
    for repo in (pkg, tmp_path / "users-repo"):
        repo.mkdir(exist_ok=True)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "users-repo" / ".git"))
    agent = CommandAgent("command", [*fake_agent, "{file}", "--touch-git"])
    result = await agent.fix(_task(pkg, tmp_path))

    assert result.exit_code == 0
    assert (pkg / ".git" / "stomper-was-here").exists()
    assert not (tmp_path / "users-repo" / ".git" / "stomper-was-here").exists()


async def test_the_log_fills_while_the_agent_runs(
    pkg: Path, tmp_path: Path, fake_agent: list[str]
) -> None:
    """What an agent said is in its log before it ends (a killed run keeps it)."""
    agent = CommandAgent(
        "command", [*fake_agent, "--spew", "0.05", "--hang", "--pid-dir", str(tmp_path / "pids")]
    )
    task = dataclasses.replace(_task(pkg, tmp_path), timeout=60)
    run = asyncio.ensure_future(agent.fix(task))
    log = tmp_path / "logs" / "pkg_mod.log"
    for _ in range(200):
        await asyncio.sleep(0.05)
        if log.exists() and "xxx" in log.read_text():
            break
    assert "xxx" in log.read_text() and not run.done()
    run.cancel()
    await asyncio.wait([run])
    assert "xxx" in log.read_text()
