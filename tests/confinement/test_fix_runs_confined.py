"""Fix runs with hostile agent scripts: nothing outside the sandbox changes, and the report
says how agents were confined."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.confinement import FORCE_ENV
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.errors import FixRunError
from stomper_lsp.workflow.report import FileStatus, FixReport
from tests.confinement.conftest import machine_support, mechanisms
from tests.workflow.repos import BROKEN, FIX_BOTH, fake, git, load

EDITED = "# the user's uncommitted edit\n"
pytestmark = pytest.mark.skipif(
    not (machine_support().bwrap or machine_support().landlock),
    reason="this machine cannot confine; test_unconfined_runs.py covers the detection path",
)


async def _fix(root: Path, *agent_args: str, **overrides: Any) -> FixReport:
    settings: dict[str, Any] = {"agent": "command", "agent_command": fake(*agent_args)}
    return await run_fix(load(root, **{**settings, **overrides}))


@pytest.mark.parametrize("mechanism", mechanisms())
async def test_absolute_path_writes_never_reach_the_users_project(
    mechanism: Any, make_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_ENV, mechanism.value)
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    (root / "other.py").write_text(EDITED)  # uncommitted, as the user left it
    report = await _fix(
        root, *FIX_BOTH, "--attack-project", "other.py", "stolen = 1\n",
        "--attack-project", "planted.py", "x = 1\n",
    )
    assert report.confinement == mechanism.value
    log = Path(report.files[0].log_path or "").read_text()
    # The agent did find the project (so the test is not vacuous) and was refused there.
    assert f"could not write {root / 'other.py'}" in log, log
    assert (root / "other.py").read_text() == EDITED
    assert not (root / "planted.py").exists()
    # The agent's legitimate work still counts.
    assert report.files[0].status == FileStatus.FIXED
    assert git(root, "status", "--porcelain") == " M other.py\n"


@pytest.mark.parametrize("mechanism", mechanisms())
async def test_home_tmp_and_parent_writes_are_refused(
    mechanism: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_ENV, mechanism.value)
    root = make_repo({"mod.py": BROKEN})
    home_file = Path.home() / f".stomper-escape-{tmp_path.name}"
    tmp_file = Path("/tmp") / f"stomper-escape-{tmp_path.name}"
    report = await _fix(
        root, *FIX_BOTH, "--try-write", str(home_file), "x", "--try-write", str(tmp_file), "x",
        "--try-write", "../../../escaped-from-worktree.txt", "x",
    )
    assert report.files[0].status == FileStatus.FIXED
    assert Path(report.files[0].log_path or "").read_text().count("could not write") == 3
    assert not home_file.exists() and not tmp_file.exists()
    base = Path(tmp_path)
    assert not list(base.parent.rglob("escaped-from-worktree.txt"))


async def test_refuses_to_run_unconfined_without_the_opt_in(
    make_repo: Any, monkeypatch: pytest.MonkeyPatch, agent_out: Path
) -> None:
    root = make_repo({"mod.py": BROKEN})
    monkeypatch.setenv(FORCE_ENV, "none")
    count = agent_out / "count"
    with pytest.raises(FixRunError, match="--allow-unconfined"):
        await _fix(root, *FIX_BOTH, "--count-file", str(count))
    assert not count.exists()


async def test_agents_cannot_write_into_sibling_slots(make_repo: Any) -> None:
    files = {f"m{i}.py": BROKEN for i in range(4)}
    root = make_repo(files)
    report = await _fix(
        root, "--sleep", "0.5", *FIX_BOTH, "--attack-siblings", "import os\n",
        max_parallel_files=4,
    )
    assert report.peak_concurrent_files == 4
    assert [o.status for o in report.files] == [FileStatus.FIXED] * 4
    assert sorted(c.path for c in report.changes) == sorted(files)
    logs = "".join(Path(o.log_path or "").read_text() for o in report.files)
    refused = [line for line in logs.splitlines() if "could not write" in line]
    assert any("-slot" in line and "escaped.py" in line for line in refused), logs
    assert any("dropped-in-run-dir.txt" in line for line in refused), logs
    assert "fake agent: wrote" not in logs


GIT_PROBE = """
import subprocess, sys
def git(*args):
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    print("git", args[0], "exit", done.returncode)
git("status", "--porcelain")
git("diff")
open(sys.argv[1], "w").write("def check(x):\\n    return x is None\\n")
git("add", sys.argv[1])
git("config", "filter.evil.clean", "/tmp/evil.sh")
"""


async def test_git_reads_work_in_the_sandbox_but_the_shared_shadow_is_read_only(
    make_repo: Any,
) -> None:
    root = make_repo({"mod.py": BROKEN})
    project = load(root, agent="command", agent_command=[sys.executable, "-c", GIT_PROBE, "{file}"])
    report = await run_fix(project)
    log = Path(report.files[0].log_path or "").read_text()
    assert "git status exit 0" in log and "git diff exit 0" in log, log
    # Writing objects or refs would reach every slot and Stomper's own git: refused.
    assert "git add exit 128" in log, log
    assert "git config exit 0" not in log and "git config exit" in log, log
    assert report.files[0].status == FileStatus.FIXED, (report.files[0].message, log)


async def test_the_attempt_log_says_how_the_agent_was_confined(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await run_fix(load(root))  # the built-in ruff agent
    assert report.files[0].status == FileStatus.FIXED
    log = Path(report.files[0].log_path or "").read_text()
    assert f"confinement: {report.confinement}" in log
    assert report.confinement != "none"


async def test_a_heartbeat_daemon_is_dead_when_the_attempt_ends(
    make_repo: Any, agent_out: Path
) -> None:
    root = make_repo({"mod.py": BROKEN})
    heartbeat = agent_out / "heartbeat"
    report = await _fix(root, *FIX_BOTH, "--daemon", str(heartbeat))
    assert report.files[0].status == FileStatus.FIXED
    assert heartbeat.exists(), "the daemon never started"
    beats = len(heartbeat.read_text().splitlines())
    time.sleep(0.3)
    assert len(heartbeat.read_text().splitlines()) == beats, "the daemon outlived the attempt"


async def test_the_test_command_is_confined_too(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    planted = root / "planted_by_tests.py"
    script = f"open({str(planted)!r}, 'w').write('x = 1')"
    report = await _fix(
        root, *FIX_BOTH, max_attempts=1, test_command=[sys.executable, "-c", script]
    )
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert "the test command failed" in outcome.message
    assert not planted.exists()
