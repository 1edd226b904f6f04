"""Fix runs with hostile agent scripts: nothing outside the sandbox changes, and the report
says how agents were confined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.confinement import FORCE_ENV
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.errors import FixRunError
from stomper_lsp.workflow.report import FileStatus, FixReport
from tests.confinement.conftest import machine_support
from tests.workflow.repos import BROKEN, FIX_BOTH, fake, git, load

EDITED = "# the user's uncommitted edit\n"
pytestmark = pytest.mark.skipif(
    not (machine_support().bwrap or machine_support().landlock),
    reason="this machine cannot confine; test_unconfined_runs.py covers the detection path",
)


async def _fix(root: Path, *agent_args: str, **overrides: Any) -> FixReport:
    settings: dict[str, Any] = {"agent": "command", "agent_command": fake(*agent_args)}
    return await run_fix(load(root, **{**settings, **overrides}))


async def test_absolute_path_writes_never_reach_the_users_project(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    (root / "other.py").write_text(EDITED)  # uncommitted, as the user left it
    report = await _fix(
        root, *FIX_BOTH, "--attack-project", "other.py", "stolen = 1\n",
        "--attack-project", "planted.py", "x = 1\n",
    )
    assert report.confinement in ("bwrap+landlock", "bwrap", "landlock")
    log = Path(report.files[0].log_path or "").read_text()
    # The agent did find the project (so the test is not vacuous) and was refused there.
    assert f"could not write {root / 'other.py'}" in log, log
    assert (root / "other.py").read_text() == EDITED
    assert not (root / "planted.py").exists()
    # The agent's legitimate work still counts.
    assert report.files[0].status == FileStatus.FIXED
    assert git(root, "status", "--porcelain") == " M other.py\n"


async def test_home_tmp_and_parent_writes_are_refused(make_repo: Any, tmp_path: Path) -> None:
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
