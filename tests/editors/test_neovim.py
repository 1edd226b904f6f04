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
from tests.editors.nvim_ui import run_with_screen
from tests.editors.projects import two_file_project
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


def run_nvim(
    nvim: str, tmp_path: Path, file: Path, *, screen: bool = False, **params: Any
) -> dict[str, Any]:
    """Run the driver on `file`; returns what it recorded (fails with the logs if none).
    With `screen`, Neovim runs with an 80x24 UI attached and the result's "prompts" counts
    the hit-enter prompts it stopped at."""
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
    prompts = None
    if screen:
        prompts = run_with_screen(
            [nvim, "--clean", "-u", str(DRIVER), str(file)],
            cwd=file.parent, env=env, timeout=TIMEOUT_S,
        )
        stdout = stderr = "(a UI was attached)"
        returncode: int | None = None
    else:
        proc = subprocess.run(
            [nvim, "--headless", "--clean", "-u", str(DRIVER), str(file)],
            cwd=file.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=TIMEOUT_S, check=False,
        )
        stdout, stderr, returncode = proc.stdout, proc.stderr, proc.returncode
    if not out.is_file():
        server_log = log.read_text() if log.is_file() else "(no server log)"
        pytest.fail(
            f"Neovim wrote no result (exit {returncode}).\nstdout: {stdout}\n"
            f"stderr: {stderr}\nserver log:\n{server_log}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    result["prompts"] = prompts
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
    assert result["notifications"] == ["Stomper: no fix run to cancel."]
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
    assert any("1 file fixed" in message for message in result["notifications"]), result
    assert any(message.endswith("(:StomperLog)") for message in result["notifications"])
    # The buffer got the fix; the disk and the repository are the user's to save/commit.
    assert target.read_text() == BROKEN
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain") == ""


FIX_SETTINGS = {"tools": ["ruff"], "agent": "ruff", "maxParallelFiles": 2}
# What an 80-column Neovim shows without a prompt: 80 minus the ruler and showcmd.
ECHO_WIDTH = 80 - 12


def test_runs_and_cancels_never_stop_at_press_enter(nvim: str, tmp_path: Path) -> None:
    """With a screen attached (80x24, as a user's terminal): a cancelled run, a fix-all
    and a cancel with nothing running leave Neovim in normal mode, never at a
    hit-enter prompt; every message is one line that fits the command line (a long
    summary is cut, pointing at :StomperLog). Without a
    `log_file`, :StomperLog shows the server's log lines of the session; lsp.log has
    no error."""
    first, second = two_file_project(tmp_path)

    result = run_nvim(
        nvim, tmp_path, first, screen=True, settings=FIX_SETTINGS, expect_code="F401",
        files=[str(first), str(second)], log_file=None,
        steps=["fix_and_cancel", "fix_all", "cancel_idle", "long_message", "log"],
    )

    assert result["prompts"] == 0, result["message_history"]
    notes: list[str] = result["notifications"]
    assert notes[0] == "Stomper: fix run cancelled; nothing was changed.", notes
    assert any("2 files fixed" in note for note in notes), notes
    assert any("no fix run to cancel" in note for note in notes), notes
    for note in notes:
        assert "\n" not in note and len(note) <= ECHO_WIDTH, note
    assert notes[-1].startswith("Stomper: 30 files fixed (90 issues), 0 issues left. M")
    assert notes[-1].endswith("… :StomperLog"), notes[-1]
    assert result["log"]["name"] == "stomper://log"
    # Neovim's lsp.log (the server's stderr and its warnings) holds no error: no
    # InvalidStateError from the cancelled run's late progress-token answer.
    lsp_log = Path(result["lsp_log"])
    errors = [line for line in lsp_log.read_text().splitlines() if "[ERROR]" in line] \
        if lsp_log.is_file() else []
    assert errors == []
    assert any("INFO fix run in" in line for line in result["log"]["lines"]), result["log"]


def test_stomper_undo_reverts_every_buffer_of_the_run(nvim: str, tmp_path: Path) -> None:
    """:StomperUndo after a fix-all over two files (one open, one the edit loaded):
    refused while a buffer holds a later edit, naming it; once that edit is undone,
    both buffers are back to the original text, unmodified. :StomperLog shows the run's log, and
    :checkhealth names it."""
    first, second = two_file_project(tmp_path)
    originals = {str(first): first.read_text(), str(second): second.read_text()}

    result = run_nvim(
        nvim, tmp_path, first, settings=FIX_SETTINGS, expect_code="F401",
        files=[str(first), str(second)],
        steps=["fix_all", "edit", "undo", "unedit", "undo", "log", "health"],
    )

    after = {entry["step"] + str(i): entry["texts"] for i, entry in enumerate(result["after"])}
    fixed = after["fix_all0"]
    for path, text in originals.items():
        assert fixed[path] is not None and "\n".join(fixed[path]) + "\n" != text, path
        assert "== None" not in "\n".join(fixed[path])
    # Refused: the second buffer was edited after the run; nothing was undone.
    refused = after["undo2"]
    assert refused[str(first)] == fixed[str(first)]
    assert refused[str(second)] == ["# typed", *fixed[str(second)]]
    assert any("other.py was edited since the fix run" in n for n in result["notifications"])
    # Undone everywhere once the later edit is gone.
    for path, text in originals.items():
        assert "\n".join(after["undo4"][path]) + "\n" == text, path
    # Back at the text on disk: no buffer is left modified.
    assert result["after"][4]["modified"] == {str(first): False, str(second): False}
    assert any("undid the fix run in 2 buffers" in n for n in result["notifications"])
    assert result["log"]["name"].endswith(str(tmp_path / "stomper-lsp.log"))
    assert any("fix run in" in line for line in result["log"]["lines"]), result["log"]
    log_line = next(line for line in result["health"] if "server log:" in line)
    assert str(tmp_path / "stomper-lsp.log") in log_line and ":StomperLog" in log_line
