"""The Neovim plugin in a real headless Neovim, talking to the real `stomper-lsp`.

Each scenario starts `nvim --headless --clean -u nvim_driver.lua FILE` with the plugin on
its runtimepath; the driver records what Neovim itself holds (vim.diagnostic, buffer text)
into a JSON file. Neovim is whatever `nvim` is on PATH (Debian bookworm: 0.7.2) plus any
binaries listed in $STOMPER_TEST_NVIM (os.pathsep-separated), to cover newer releases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors.nvim_support import MIN_VERSION, neovim_version, neovims
from tests.workflow.repos import BROKEN, RUFF_ONLY, git

pytestmark = pytest.mark.slow

EDITORS = Path(__file__).resolve().parents[2] / "editors"
DRIVER = Path(__file__).with_name("nvim_driver.lua")
SERVER = Path(sys.executable).parent / "stomper-lsp"
TIMEOUT_S = 60
UNSAVED = "VALUE = 1  # typed, not saved"


@pytest.fixture(params=neovims(), ids=str)
def nvim(request: pytest.FixtureRequest) -> str:
    path: str | None = request.param
    if path is None:
        pytest.skip("nvim is not installed (Debian/Ubuntu: apt-get install neovim)")
    version = neovim_version(path)
    if version < MIN_VERSION:
        pytest.skip(f"{path} is Neovim {version}; the plugin needs {MIN_VERSION} or newer")
    return path


def run_nvim(nvim: str, tmp_path: Path, file: Path, **params: Any) -> dict[str, Any]:
    """Run the driver on `file`; returns what it recorded (fails with the logs if none)."""
    out = tmp_path / "nvim-result.json"
    log = tmp_path / "stomper-lsp.log"
    params_file = tmp_path / "nvim-params.json"
    params_file.write_text(json.dumps({
        "plugin_dir": str(EDITORS / "neovim"),
        "cmd": [str(SERVER)],
        "log_file": str(log),
        "file": str(file),
        "out": str(out),
        "timeout_ms": (TIMEOUT_S - 10) * 1000,
        **params,
    }))
    home = tmp_path / "nvim-home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "STOMPER_NVIM_PARAMS": str(params_file),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "NVIM_LOG_FILE": str(home / "nvim.log"),
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(DRIVER), str(file)],
        cwd=file.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )
    if not out.is_file():
        server_log = log.read_text() if log.is_file() else "(no server log)"
        pytest.fail(
            f"Neovim wrote no result (exit {proc.returncode}).\nstdout: {proc.stdout}\n"
            f"stderr: {proc.stderr}\nserver log:\n{server_log}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    if result["status"] != "ok":
        lsp_log = Path(result["lsp_log"])
        details = {
            "result": result,
            "server log": log.read_text() if log.is_file() else None,
            "neovim lsp.log": lsp_log.read_text() if lsp_log.is_file() else None,
        }
        pytest.fail(f"the Neovim scenario did not finish: {json.dumps(details, indent=1)}")
    return result


def test_diagnostics_and_settings_reach_neovim(nvim: str, tmp_path: Path) -> None:
    """Ruff's issues show in Neovim; the plugin's `settings` reach the server (E711 is
    ignored by them, so only F401 may show); :StomperCancel with no run says so;
    :StomperRestart replaces the server and the diagnostics come back."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(RUFF_ONLY)
    target = project / "mod.py"
    target.write_text(BROKEN)

    result = run_nvim(
        nvim, tmp_path, target,
        settings={"tools": ["ruff"], "ignore": ["E711"]},
        expect_code="F401", cancel=True, restart=True,
    )

    codes = {d["code"] for d in result["diagnostics"]}
    assert "F401" in codes
    assert "E711" not in codes, "the `ignore` setting did not reach the server"
    f401 = next(d for d in result["diagnostics"] if d["code"] == "F401")
    assert f401["lnum"] == 0
    assert "os" in f401["message"]
    assert result["clients"] == 1
    assert result["notifications"] == ["Stomper: no fix run to cancel"]
    assert result["restarted_client"] != result["first_client"]


@pytest.mark.parametrize("command", ["StomperFixFile", "StomperFixAll"])
def test_fix_edits_the_buffer_through_apply_edit(
    nvim: str, tmp_path: Path, command: str
) -> None:
    """:StomperFixFile / :StomperFixAll with the built-in ruff agent: the fix arrives in
    the buffer by `workspace/applyEdit` (the `changes` form: Neovim advertises no
    documentChanges), the unsaved line typed before the run survives, and the file on
    disk is left to the user."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(RUFF_ONLY)
    target = project / "mod.py"
    target.write_text(BROKEN)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "init")
    head = git(project, "rev-parse", "HEAD")

    result = run_nvim(
        nvim, tmp_path, target,
        settings={"tools": ["ruff"], "agent": "ruff", "maxParallelFiles": 1},
        expect_code="F401", fix=command, unsaved_line=UNSAVED, gone=["import os", "== None"],
    )

    assert result["document_changes"] is False, "this Neovim sends documentChanges"
    assert {d["code"] for d in result["first_diagnostics"]} >= {"F401", "E711"}
    lines: list[str] = result["lines"]
    assert "    return x is None" in lines
    assert not any(re.match(r"import os\b", line) for line in lines)
    assert lines[-1] == UNSAVED, "the unsaved edit typed before the run was lost"
    assert result["diagnostics"] == []
    assert result["modified"] is True
    assert any("1 file fixed" in message for message in result["messages"]), result["messages"]
    # The buffer got the fix; the disk and the repository are the user's to save/commit.
    assert target.read_text() == BROKEN
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain") == ""
