"""Real processes under each mechanism: what they may write, and that their tree dies."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from stomper_lsp.confinement import Confinement, Mechanism
from stomper_lsp.process import run_process
from tests.confinement.conftest import machine_support, mechanisms
from tests.workflow.repos import FAKE_AGENT


def _confinement(mechanism: Mechanism, *writable: Path, tmp: Path) -> Confinement:
    support = machine_support()
    return Confinement(
        mechanism=mechanism,
        writable=(*writable, tmp),
        private_tmp=tmp,
        landlock_abi=support.landlock_abi,
        bwrap=support.bwrap or "bwrap",
    )


@pytest.mark.parametrize("mechanism", mechanisms())
async def test_writes_land_only_in_the_writable_folders(
    mechanism: Mechanism, tmp_path: Path
) -> None:
    sandbox, tmp, outside = tmp_path / "sandbox", tmp_path / "tmp", tmp_path / "outside"
    for folder in (sandbox, tmp, outside):
        folder.mkdir()
    home = Path.home() / f".stomper-confinement-test-{os.getpid()}"
    targets = {
        "inside": sandbox / "ok.py",
        "parent": sandbox / ".." / "parent.txt",
        "outside": outside / "x.txt",
        "home": home,
        "slash-tmp": Path("/tmp") / f"stomper-escape-{os.getpid()}",
    }
    args = [arg for path in targets.values() for arg in ("--try-write", str(path), "x")]
    result = await run_process(
        [sys.executable, str(FAKE_AGENT), *args, "--try-write", "$TMPDIR/t", "x"],
        cwd=sandbox, timeout=30, confinement=_confinement(mechanism, sandbox, tmp=tmp),
    )
    assert result.returncode == 0, result.stderr_text
    assert targets["inside"].read_text() == "x"
    for name in ("parent", "outside", "home", "slash-tmp"):
        assert not targets[name].exists(), f"{name} write escaped: {result.stdout_text}"
    assert "could not write" in result.stdout_text


@pytest.mark.parametrize("mechanism", mechanisms())
async def test_the_private_temp_folder_is_tmpdir(mechanism: Mechanism, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = "import tempfile, pathlib; pathlib.Path(tempfile.mkstemp()[1]).write_text('t')"
    result = await run_process(
        [sys.executable, "-c", script], cwd=tmp_path, timeout=30,
        confinement=_confinement(mechanism, tmp=tmp),
    )
    assert result.returncode == 0, result.stderr_text
    assert len(list(tmp.iterdir())) == 1


def _beats(heartbeat: Path) -> int:
    return len(heartbeat.read_text().splitlines()) if heartbeat.exists() else 0


@pytest.mark.parametrize("mechanism", [*mechanisms(), Mechanism.NONE])
async def test_a_double_forked_setsid_daemon_dies_with_the_attempt(
    mechanism: Mechanism, tmp_path: Path
) -> None:
    tmp, beat_dir = tmp_path / "tmp", tmp_path / "beats"
    tmp.mkdir()
    beat_dir.mkdir()
    heartbeat = beat_dir / "heartbeat"
    result = await run_process(
        [sys.executable, str(FAKE_AGENT), "--daemon", str(heartbeat), "--sleep", "0.3"],
        cwd=tmp_path, timeout=30, confinement=_confinement(mechanism, beat_dir, tmp=tmp),
    )
    assert result.returncode == 0, result.stderr_text
    assert _beats(heartbeat) > 0, "the daemon never started"
    time.sleep(0.2)
    settled = _beats(heartbeat)
    time.sleep(0.4)
    assert _beats(heartbeat) == settled, "the daemon outlived the attempt"


@pytest.mark.parametrize("mechanism", [*mechanisms(), Mechanism.NONE])
async def test_a_timeout_takes_the_whole_tree_down(mechanism: Mechanism, tmp_path: Path) -> None:
    tmp, beat_dir = tmp_path / "tmp", tmp_path / "beats"
    tmp.mkdir()
    beat_dir.mkdir()
    heartbeat = beat_dir / "heartbeat"
    result = await run_process(
        [sys.executable, str(FAKE_AGENT), "--daemon", str(heartbeat), "--hang"],
        cwd=tmp_path, timeout=1.0, confinement=_confinement(mechanism, beat_dir, tmp=tmp),
    )
    assert result.timed_out and result.duration_s < 5
    time.sleep(0.2)
    settled = _beats(heartbeat)
    assert settled > 0
    time.sleep(0.4)
    assert _beats(heartbeat) == settled, "the daemon outlived the timeout"


@pytest.mark.parametrize("mechanism", mechanisms())
async def test_a_state_file_is_writable_in_place_and_its_folder_is_not(
    mechanism: Mechanism, tmp_path: Path
) -> None:
    tmp, home = tmp_path / "tmp", tmp_path / "home"
    tmp.mkdir()
    home.mkdir()
    state = home / ".agent.json"
    state.write_text("{}")
    result = await run_process(
        [sys.executable, str(FAKE_AGENT), "--try-write", str(state), '{"n": 1}',
         "--try-write", str(home / "other"), "x"],
        cwd=tmp_path, timeout=30, confinement=_confinement(mechanism, state, tmp=tmp),
    )
    assert result.returncode == 0, result.stderr_text
    assert state.read_text() == '{"n": 1}'
    assert not (home / "other").exists()
