"""The detection path: with no mechanism (forced here, so it runs on every machine), agents
run only with the opt-in, and a write outside the sandbox rejects the attempt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.config import load_config
from stomper_lsp.confinement import FORCE_ENV, Mechanism, Support, choose_mechanism
from stomper_lsp.confinement.launcher import landlock_abi
from stomper_lsp.confinement.policy import ConfinementError
from stomper_lsp.confinement.support import probe_bwrap
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from tests.workflow.repos import BROKEN, FIX_BOTH, fake, load

NOTHING = Support(landlock_abi=0, bwrap=None, bwrap_problem="bwrap: setting up uid map: denied")


def test_the_best_available_mechanism_is_chosen() -> None:
    both = Support(landlock_abi=7, bwrap="/usr/bin/bwrap")
    assert choose_mechanism(both, allow_unconfined=False) is Mechanism.BWRAP_LANDLOCK
    only_landlock = Support(landlock_abi=3, bwrap=None, bwrap_problem="no bwrap")
    assert choose_mechanism(only_landlock, allow_unconfined=False) is Mechanism.LANDLOCK
    assert choose_mechanism(NOTHING, allow_unconfined=True) is Mechanism.NONE


def test_refusal_names_the_flag_and_why() -> None:
    with pytest.raises(ConfinementError) as caught:
        choose_mechanism(NOTHING, allow_unconfined=False)
    message = str(caught.value)
    assert "--allow-unconfined" in message and "allow_unconfined = true" in message
    assert "uid map" in message  # what the probe found


def test_a_forced_mechanism_the_machine_lacks_is_an_error() -> None:
    with pytest.raises(ConfinementError, match="bwrap"):
        choose_mechanism(NOTHING, allow_unconfined=True, forced="bwrap")
    with pytest.raises(ConfinementError, match="not a confinement mechanism"):
        choose_mechanism(NOTHING, allow_unconfined=True, forced="chroot")


def test_a_repository_cannot_opt_in(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.stomper]\nallow_unconfined = true\nagent_writable_dirs = ['/']\n"
    )
    loaded = load_config(tmp_path)
    assert loaded.config.allow_unconfined is False
    assert loaded.config.agent_writable_dirs == []
    assert sum("cannot loosen the agents' confinement" in w for w in loaded.warnings) == 2


@pytest.fixture
def unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_ENV, "none")


async def test_an_escape_into_the_users_project_rejects_the_attempt(
    make_repo: Any, unconfined: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    # The agent finds "the user's project" through its parent's cwd and $PWD: make that the
    # test's repository, not the checkout pytest runs in (unconfined, the write succeeds).
    monkeypatch.chdir(root)
    monkeypatch.setenv("PWD", str(root))
    project = load(root, agent="command", allow_unconfined=True, max_attempts=1,
                   agent_command=fake(*FIX_BOTH, "--attack-project", "planted.py", "x = 1\n"))
    report = await run_fix(project)
    assert report.confinement == "none (opt-in)"
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert "changed files outside its sandbox" in outcome.message
    assert str(root / "planted.py") in outcome.message
    assert report.changes == []


async def test_a_well_behaved_unconfined_agent_still_fixes(
    make_repo: Any, unconfined: None
) -> None:
    root = make_repo({"a.py": BROKEN, "b.py": BROKEN})
    project = load(root, agent="command", allow_unconfined=True, max_parallel_files=4,
                   agent_command=fake(*FIX_BOTH))
    report = await run_fix(project)
    assert [o.status for o in report.files] == [FileStatus.FIXED, FileStatus.FIXED]
    assert report.peak_concurrent_files == 1  # one at a time, so an escape is attributable


STOMPER = str(Path(sys.executable).parent / "stomper")


def _cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STOMPER, *args], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **env})


def test_doctor_says_how_agents_are_confined(make_repo: Any) -> None:
    Path(os.environ["STOMPER_CONFIG"]).write_text("")  # no opt-in, whatever the machine
    root = make_repo({"mod.py": BROKEN})
    found = json.loads(_cli(root, "doctor", "--json").stdout)
    assert found["landlock_abi"] == landlock_abi()
    refused = _cli(root, "doctor", **{FORCE_ENV: "none"})
    assert refused.returncode == 1 and "--allow-unconfined" in refused.stdout
    allowed = _cli(root, "doctor", "--allow-unconfined", **{FORCE_ENV: "none"})
    assert allowed.returncode == 0 and "UNCONFINED" in allowed.stdout


def test_fix_refuses_to_run_unconfined_and_names_the_flag(make_repo: Any) -> None:
    Path(os.environ["STOMPER_CONFIG"]).write_text("")  # no opt-in, whatever the machine
    root = make_repo({"mod.py": BROKEN})
    refused = _cli(root, "fix", "--tools", "ruff", **{FORCE_ENV: "none"})
    assert refused.returncode == 2
    assert "--allow-unconfined" in refused.stderr and "Traceback" not in refused.stderr
    assert (root / "mod.py").read_text() == BROKEN
    allowed = _cli(root, "fix", "--tools", "ruff", "--allow-unconfined", **{FORCE_ENV: "none"})
    assert allowed.returncode == 0, allowed.stderr
    assert "Agents ran UNCONFINED" in allowed.stdout


async def test_a_bwrap_that_cannot_make_namespaces_is_not_counted(tmp_path: Path) -> None:
    """As on Ubuntu 24.04 with AppArmor's userns restriction: present, but it fails."""
    fake_bwrap = tmp_path / "bwrap"
    fake_bwrap.write_text(
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"
    )
    fake_bwrap.chmod(0o755)
    found, why = await probe_bwrap(str(fake_bwrap))
    assert found is None
    assert "uid map" in why and "user namespaces" in why
    assert (await probe_bwrap(str(tmp_path / "missing")))[0] is None



def test_the_editor_summary_warns_only_about_unconfined_runs() -> None:
    from stomper_lsp.server.delivery import Delivery
    from stomper_lsp.server.fix_runs import summary
    from stomper_lsp.workflow.report import FileOutcome, FixReport, RunStatus

    files = [FileOutcome(path="a.py", status=FileStatus.FIXED, issues_before=1, issues_after=0)]
    for how, warned in (("none (opt-in)", True), ("bwrap+landlock", False)):
        report = FixReport(status=RunStatus.COMPLETED, root="/p", files=files, confinement=how)
        assert ("UNCONFINED" in summary(report, Delivery(applied=["a.py"]))) is warned


async def test_an_unconfined_test_command_that_escapes_rejects_the_attempt(
    make_repo: Any, unconfined: None
) -> None:
    root = make_repo({"mod.py": BROKEN})
    planted = root / "planted_by_tests.py"
    script = f"open({str(planted)!r}, 'w').write('x = 1')"
    project = load(root, agent="command", allow_unconfined=True, max_attempts=1,
                   agent_command=fake(*FIX_BOTH), test_command=[sys.executable, "-c", script])
    report = await run_fix(project)
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert "the test command (unconfined) changed files outside its sandbox" in outcome.message
    assert str(planted) in outcome.message
