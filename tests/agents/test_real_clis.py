"""The real agent CLIs driven by `stomper fix --agent NAME` against a scripted model server.

The model is the only fake (tests/agents/model_server.py): it edits only once the issue
text reached the conversation, so a preset whose CLI cannot read its prompt fixes nothing.
Every test gets its own HOME (and CODEX_HOME ...), so no user login or config leaks in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents.model_server import AIDER, ModelServer, Script, cli_environment

STOMPER = str(Path(sys.executable).parent / "stomper")
BROKEN = "import os\n\n\ndef f() -> int:\n    return 1\n"
FIXED = "\n\ndef f() -> int:\n    return 1\n"
AGENT_TIMEOUT = "60"

pytestmark = pytest.mark.slow


def _binary(name: str) -> str | None:
    if name == "aider":
        return AIDER if Path(AIDER).exists() else shutil.which("aider")
    return shutil.which(name)


def run_fix(root: Path, agent: str, env: dict[str, str], *args: str,
            timeout: float = 150) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in {**os.environ, **env}.items() if v}
    if "--agent-timeout" not in args:
        args = ("--agent-timeout", AGENT_TIMEOUT, *args)
    return subprocess.run(
        [STOMPER, "fix", "--json", "--agent", agent, "--tools", "ruff", *args],
        cwd=root, env=full, capture_output=True, text=True, timeout=timeout, check=False,
    )


AGENTS = ["claude", "codex", "gemini", "aider"]
TOKENS_REPORTED = ("claude", "codex", "aider")


@pytest.fixture(params=AGENTS)
def agent(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if _binary(name) is None:
        pytest.skip(f"the {name} CLI is not installed (.ci/run installs it)")
    return name


@pytest.fixture
def model() -> Iterator[tuple[Script, str]]:
    script = Script()
    with ModelServer(script) as url:
        yield script, url


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        shown = f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        raise AssertionError(f"no JSON report: {shown}") from None
    return report


def test_a_file_is_fixed(agent: str, model: tuple[Script, str], make_repo: Callable[..., Path],
                         tmp_path: Path) -> None:
    script, url = model
    root = make_repo({"mod.py": BROKEN})
    proc = run_fix(root, agent, cli_environment(agent, tmp_path / "home", url, "sk-test"))
    report = _report(proc)
    assert [(f["path"], f["status"]) for f in report["files"]] == [("mod.py", "fixed")], (
        proc.stdout[-3000:], proc.stderr[-3000:])
    assert (root / "mod.py").read_text() == FIXED
    assert script.edits >= 1
    (attempt,) = report["files"][0]["attempt_reports"]
    assert attempt["verdict"] == "accepted", attempt
    if agent in TOKENS_REPORTED:  # what the scripted model said it used, summed per run
        assert attempt["tokens"] and report["tokens"] == attempt["tokens"], attempt


def _failed_attempt(report: dict[str, Any]) -> dict[str, Any]:
    (outcome,) = report["files"]
    assert outcome["status"] == "failed", outcome
    attempts: list[dict[str, Any]] = outcome["attempt_reports"]
    assert attempts and all(a["verdict"] == "failed" for a in attempts), attempts
    return attempts[-1]



def test_four_files_in_parallel(agent: str, model: tuple[Script, str],
                                make_repo: Callable[..., Path], tmp_path: Path) -> None:
    script, url = model
    names = [f"mod{n}.py" for n in range(4)]
    root = make_repo(dict.fromkeys(names, BROKEN))
    proc = run_fix(root, agent, cli_environment(agent, tmp_path / "home", url, "sk-test"),
                   "--max-parallel-files", "4")
    report = _report(proc)
    assert sorted((f["path"], f["status"]) for f in report["files"]) == [
        (name, "fixed") for name in names], (proc.stdout[-3000:], proc.stderr[-3000:])
    assert all((root / name).read_text() == FIXED for name in names)
    assert script.edits >= 4
    assert not list(root.glob(".aider*")), "Aider's caches never reach the project"


def test_a_rejected_key_fails_once_named(agent: str, model: tuple[Script, str],
                                         make_repo: Callable[..., Path], tmp_path: Path) -> None:
    """HTTP 401 will not heal: one attempt, failed, saying so; the file untouched."""
    script, url = model
    script.mode = "401"
    root = make_repo({"mod.py": BROKEN})
    proc = run_fix(root, agent, cli_environment(agent, tmp_path / "home", url, "sk-test"))
    attempt = _failed_attempt(_report(proc))
    assert attempt["attempt"] == 1, attempt  # not retried
    assert attempt["reason"].count(":") >= 2, attempt  # the CLI's own words after the exit
    assert "401" in attempt["reason"] or "uthenticat" in attempt["reason"], attempt
    assert (root / "mod.py").read_text() == BROKEN
    assert script.edits == 0


def test_a_server_error_fails_named(agent: str, model: tuple[Script, str],
                                    make_repo: Callable[..., Path], tmp_path: Path) -> None:
    script, url = model
    script.mode = "500"
    root = make_repo({"mod.py": BROKEN})
    # Gemini retries a 500 for a minute by itself: the agent timeout bounds it here.
    proc = run_fix(root, agent, cli_environment(agent, tmp_path / "home", url, "sk-test"),
                   "--max-attempts", "1", "--agent-timeout", "15")
    attempt = _failed_attempt(_report(proc))
    assert attempt["reason"].startswith("the agent failed"), attempt
    assert attempt["reason"] != "the agent failed", attempt
    assert (root / "mod.py").read_text() == BROKEN


def test_a_server_that_never_answers_times_out_named(
    agent: str, model: tuple[Script, str], make_repo: Callable[..., Path], tmp_path: Path,
) -> None:
    script, url = model
    script.mode = "hang"
    root = make_repo({"mod.py": BROKEN})
    env = cli_environment(agent, tmp_path / "home", url, "sk-test")
    proc = subprocess.run(
        [STOMPER, "fix", "--json", "--agent", agent, "--tools", "ruff", "--agent-timeout", "8",
         "--max-attempts", "1"],
        cwd=root, env={k: v for k, v in {**os.environ, **env}.items() if v},
        capture_output=True, text=True, timeout=90, check=False,
    )
    attempt = _failed_attempt(_report(proc))
    assert attempt["timed_out"], attempt
    assert "timeout" in attempt["reason"], attempt
    assert (root / "mod.py").read_text() == BROKEN


def test_no_key_fails_saying_what_to_set(agent: str, model: tuple[Script, str],
                                         make_repo: Callable[..., Path], tmp_path: Path) -> None:
    script, url = model
    root = make_repo({"mod.py": BROKEN})
    env = cli_environment(agent, tmp_path / "home", url, None)
    if agent == "aider":  # no model, no key: Stomper refuses to start it at all
        env["AIDER_MODEL"] = ""
    proc = run_fix(root, agent, env)
    assert (root / "mod.py").read_text() == BROKEN
    assert script.edits == 0
    if agent == "aider":
        assert proc.returncode != 0
        assert "OPENAI_API_BASE" in proc.stderr and "model" in proc.stderr, proc.stderr
        return
    attempt = _failed_attempt(_report(proc))
    assert attempt["attempt"] == 1, attempt  # not retried
    assert attempt["reason"].count(":") >= 2, attempt  # the CLI's own words after the exit


def test_a_dead_endpoint_stops_the_queued_files(
    agent: str, model: tuple[Script, str], make_repo: Callable[..., Path], tmp_path: Path,
) -> None:
    """The first files all fail the same hard way: the rest are never started."""
    script, url = model
    script.mode = "401"
    names = [f"mod{n}.py" for n in range(8)]
    root = make_repo(dict.fromkeys(names, BROKEN))
    proc = run_fix(root, agent, cli_environment(agent, tmp_path / "home", url, "sk-test"),
                   "--max-parallel-files", "2")
    report = _report(proc)
    stopped = report["stopped"] or ""
    assert "401" in stopped or "uthenticat" in stopped, report
    not_started = [f for f in report["files"] if "not started" in (f["message"] or "")]
    assert len(not_started) >= 4, report["files"]
    assert all(f["status"] == "failed" for f in report["files"])
    assert all((root / name).read_text() == BROKEN for name in names)
