"""`stomper fix` through the real console script: flags, JSON report, delivery, --commit."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.cli.main import _overrides, build_parser
from stomper_lsp.project import Project
from tests.conftest import UNCONFINED_MACHINE
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, git

STOMPER = str(Path(sys.executable).parent / "stomper")


def stomper(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOMPER, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def agent_flag(*args: str) -> str:
    return shlex.join(fake(*args))


def test_every_fix_flag_reaches_the_configuration(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["fix", "--max-parallel-files", "7", "--agent-command", "my-agent {prompt_file} {file}",
         "--tools", "ruff", "--select", "F,E7", "--ignore", "F841", "--max-attempts", "5",
         "--agent-timeout", "42", "--test-command", "python -m pytest -x", "--dry-run",
         "--json"]
    )
    config = Project.load(tmp_path, overrides=_overrides(args)).config
    assert config.max_parallel_files == 7
    assert (config.agent, config.agent_command) == ("command", ["my-agent", "{prompt_file}",
                                                                "{file}"])
    assert (config.tools, config.select, config.ignore) == (["ruff"], ["F", "E7"], ["F841"])
    assert (config.max_attempts, config.agent_timeout) == (5, 42.0)
    assert config.test_command == ["python", "-m", "pytest", "-x"]
    assert args.dry_run and args.json


def test_fix_json_report_and_write_back(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN})
    proc = stomper(root, "fix", "--json", "--max-parallel-files", "2",
                   "--agent-command", agent_flag(*FIX_BOTH))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [(f["path"], f["status"], f["issues_before"], f["issues_after"])
            for f in report["files"]] == [("a.py", "fixed", 2, 0), ("b.py", "fixed", 2, 0)]
    assert (report["issues_before"], report["issues_after"]) == (4, 0)
    # Unconfined agents (a machine that cannot confine them) run one at a time.
    assert report["peak_concurrent_files"] == (1 if UNCONFINED_MACHINE else 2)
    assert report["peak_concurrent_merges"] == 1
    assert report["duration_s"] > 0
    assert (root / "a.py").read_text() == FIXED


def test_dry_run_prints_the_diff_and_writes_nothing(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN})
    proc = stomper(root, "fix", "--dry-run", "--agent-command", agent_flag(*FIX_BOTH))
    assert proc.returncode == 0, proc.stderr
    assert "-import os" in proc.stdout and "+    return x is None" in proc.stdout
    assert (root / "a.py").read_text() == BROKEN


def test_max_attempts_and_test_command_reach_the_run(
    make_repo: Any, tmp_path: Path, agent_out: Path,
) -> None:
    root = make_repo({"a.py": BROKEN})
    count = agent_out / "count"
    proc = stomper(root, "fix", "--json", "--max-attempts", "2", "--test-mode", "per-file",
                   "--test-command", f"{sys.executable} -c 'raise SystemExit(1)'",
                   "--agent-command", agent_flag("--count-file", str(count), *FIX_BOTH))
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert report["files"][0]["status"] == "failed"
    assert "test command failed" in report["files"][0]["message"]
    assert len(count.read_text().splitlines()) == 2
    assert (root / "a.py").read_text() == BROKEN


def test_select_limits_what_the_built_in_agent_fixes(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN})
    proc = stomper(root, "fix", "--json", "--tools", "ruff", "--select", "F401")
    assert proc.returncode == 0, proc.stderr
    text = (root / "a.py").read_text()
    assert "import os" not in text and "== None" in text


def test_commit_mode_commits_only_stompers_change(make_repo: Any) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN, "notes.py": "N = 1\n"})
    (root / "notes.py").write_text("N = 2\n")
    git(root, "add", "notes.py")  # the user's staged work
    (root / "b.py").write_text(BROKEN + "\nMINE = 1\n")  # the user's unstaged work
    head = git(root, "rev-parse", "HEAD").strip()
    proc = stomper(root, "fix", "--commit", "--agent-command", agent_flag(*FIX_BOTH))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # b.py refused
    assert "not committed: b.py" in proc.stdout and "uncommitted changes" in proc.stdout
    log = git(root, "log", "--format=%s", f"{head}..HEAD").splitlines()
    assert log == ["fix(lint): resolve 2 ruff/mypy issues in a.py"]
    assert git(root, "show", "--name-only", "--format=", "HEAD").split() == ["a.py"]
    assert git(root, "diff", "--cached", "--name-only").split() == ["notes.py"]
    assert (root / "a.py").read_text() == FIXED
    assert (root / "b.py").read_text() == BROKEN + "\nMINE = 1\n"
    assert "a.py" not in git(root, "status", "--porcelain")


def test_not_a_git_repository_stops_before_any_agent(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a.py").write_text(BROKEN)
    marker = tmp_path / "ran"
    proc = stomper(tmp_path, "fix", "--agent-command", agent_flag("--count-file", str(marker)))
    assert proc.returncode == 2
    assert "git" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("preset", ["claude", "aider"])
def test_missing_preset_binary_stops_the_run_with_a_message(
    make_repo: Any, preset: str
) -> None:
    root = make_repo({"a.py": BROKEN})
    # Only git and Stomper's own tools are reachable (the agent CLIs may be installed here).
    tools = root.parent / "only-git"
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    env_path = f"{Path(sys.executable).parent}:{tools}"
    proc = subprocess.run(
        [STOMPER, "fix", "--agent", preset], cwd=root, capture_output=True, text=True,
        timeout=60, check=False, env={"PATH": env_path, "HOME": str(root)},
    )
    assert proc.returncode == 2
    assert preset in proc.stderr and "Traceback" not in proc.stderr
    assert (root / "a.py").read_text() == BROKEN


def test_dropped_fixes_are_in_the_json_report_and_the_text(make_repo: Any) -> None:
    """`--extend-select B` reaches ruff; B011's fix in `except` would add B904: dropped, named."""
    source = (
        "import os\n\n\ndef parse(text):\n    try:\n        return int(text)\n"
        "    except ValueError:\n        assert False, 'bad'\n"
    )
    root = make_repo({"a.py": source})
    proc = stomper(root, "fix", "--json", "--tools", "ruff", "--extend-select", "B")
    assert proc.returncode == 1, proc.stderr  # B011 is left
    [entry] = json.loads(proc.stdout)["files"]
    assert entry["status"] == "partial"
    [report] = entry["attempt_reports"]  # no second, safe-only attempt: nothing unsafe kept
    assert report["verdict"] == "accepted"
    [dropped] = report["dropped_fixes"]
    assert dropped.startswith("B011 at line 8") and "B904" in dropped
    assert "import os" not in (root / "a.py").read_text()

    git(root, "checkout", "a.py")
    text = stomper(root, "fix", "--tools", "ruff", "--extend-select", "B")
    assert "dropped fix: B011 at line 8" in text.stdout, text.stdout
