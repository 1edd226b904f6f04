"""stomper.el in a real `emacs --batch` with Eglot, talking to the real `stomper-lsp`.

Emacs 29+ has Eglot built in; on Emacs 28 (Debian bookworm) it comes from the
`elpa-eglot` package. Eglot advertises `documentChanges`, so the fix scenario covers the
edit form Neovim's test does not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors.projects import two_file_project
from tests.editors.server_facts import EDITORS
from tests.workflow.repos import BROKEN, RUFF_ONLY, git

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("emacs_driver.el")
SERVER = Path(sys.executable).parent / "stomper-lsp"
TIMEOUT_S = 60
UNSAVED = "VALUE = 1  # typed, not saved"


@pytest.fixture(scope="module")
def emacs() -> str:
    path = shutil.which("emacs")
    if path is None:
        pytest.skip("emacs is not installed (Debian: apt-get install emacs-nox elpa-eglot)")
    probe = subprocess.run(
        [path, "--batch", "--eval",
         "(progn (require 'package) (package-initialize) (require 'eglot))"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )
    if probe.returncode != 0:
        pytest.skip(f"Eglot is not available in {path} (Debian: apt-get install elpa-eglot)")
    return path


def run_emacs(emacs: str, tmp_path: Path, file: Path, **params: Any) -> dict[str, Any]:
    out = tmp_path / "emacs-result.json"
    log = tmp_path / "stomper-lsp.log"
    params_file = tmp_path / "emacs-params.json"
    params_file.write_text(json.dumps({
        "plugin_dir": str(EDITORS / "emacs"),
        "cmd": [str(SERVER)],
        "log_file": str(log),
        "file": str(file),
        "out": str(out),
        "timeout_s": TIMEOUT_S - 15,
        **params,
    }))
    home = tmp_path / "emacs-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "STOMPER_EMACS_PARAMS": str(params_file), "HOME": str(home)}
    proc = subprocess.run(
        [emacs, "--batch", "-l", str(DRIVER)],
        cwd=file.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )
    server_log = log.read_text() if log.is_file() else "(no server log)"
    if not out.is_file():
        pytest.fail(f"Emacs wrote no result (exit {proc.returncode}).\n{proc.stderr[-4000:]}"
                    f"\nserver log:\n{server_log}")
    result: dict[str, Any] = json.loads(out.read_text())
    if result["status"] != "ok":
        pytest.fail(f"the Emacs scenario did not finish: {json.dumps(result, indent=1)}\n"
                    f"{proc.stderr[-4000:]}\nserver log:\n{server_log}")
    return result


def test_settings_reach_the_server_but_a_repository_names_no_program(
    emacs: str, tmp_path: Path
) -> None:
    """The user's `stomper-settings` and the project's .dir-locals.el both apply (E711 is
    ignored by the latter); the program the .dir-locals.el names is dropped."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(RUFF_ONLY)
    (project / ".dir-locals.el").write_text(
        '((nil . ((eglot-workspace-configuration\n'
        '          . (:stomper (:ignore ["E711"] :agentCommand ["repo-agent"]))))))\n'
    )
    target = project / "mod.py"
    target.write_text(BROKEN)

    result = run_emacs(
        emacs, tmp_path, target,
        settings={"tools": ["ruff"], "agentCommand": ["my-agent", "{file}"]},
        expect_code="F401",
    )

    assert result["server_class"] == "stomper-eglot-server"
    texts: list[str] = result["diagnostics"]
    assert any("[F401]" in text and "os" in text for text in texts), texts
    assert not any("[E711]" in text for text in texts), ".dir-locals.el settings were lost"
    [answer] = result["configuration"]
    assert answer == {
        "tools": ["ruff"], "agentCommand": ["my-agent", "{file}"], "ignore": ["E711"],
    }


def test_stomper_el_byte_compiles_without_warnings(emacs: str, tmp_path: Path) -> None:
    source = tmp_path / "stomper.el"
    shutil.copy(EDITORS / "emacs" / "stomper.el", source)
    proc = subprocess.run(
        [emacs, "--batch", "--eval",
         "(progn (require 'package) (package-initialize) (setq byte-compile-error-on-warn t)"
         f" (unless (byte-compile-file \"{source}\") (kill-emacs 1)))"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert source.with_suffix(".elc").is_file()


def test_fix_file_edits_the_buffer(emacs: str, tmp_path: Path) -> None:
    """M-x stomper-fix-file right after typing: stomper.el flushes Eglot's pending
    didChange first, so the run snapshots the typed line and its versioned edit
    (documentChanges) applies to the buffer instead of being refused."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(RUFF_ONLY)
    target = project / "mod.py"
    target.write_text(BROKEN)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "init")

    result = run_emacs(
        emacs, tmp_path, target,
        settings={"tools": ["ruff"], "agent": "ruff"}, expect_code="F401", fix=True,
        unsaved_line=UNSAVED, gone=["import os", "== None"],
    )

    assert result["fix_result"]["started"] is True
    assert {"[F401]", "[E711]"} <= {
        code for text in result["first_diagnostics"] for code in ("[F401]", "[E711]")
        if code in text
    }
    text: str = result["text"]
    assert "return x is None" in text
    assert "import os" not in text
    assert text.rstrip("\n").endswith(UNSAVED), "the unsaved edit typed before the run was lost"
    assert result["diagnostics"] == []
    assert result["modified"] is True
    assert any("1 file fixed" in message for message in result["messages"]), result["messages"]
    assert target.read_text() == BROKEN
    assert git(project, "status", "--porcelain") == ""


def test_fix_all_shows_progress_asks_nothing_and_undoes_across_buffers(
    emacs: str, tmp_path: Path
) -> None:
    """M-x stomper-fix-all over two files, one not visited, with Eglot's defaults:
    progress lines in the echo area while it runs (Eglot 1.9 shows none itself), no
    "Proceed?" question, the fix in both buffers. `stomper-undo` refuses while the
    second buffer holds a later edit, naming it; once that is gone, both buffers are
    back to the original text and unmodified. `stomper-cancel` with nothing running says
    so once. `stomper-show-log` opens the run's log."""
    first, second = two_file_project(tmp_path)
    files = [str(first), str(second)]

    result = run_emacs(
        emacs, tmp_path, first, settings={"tools": ["ruff"], "agent": "ruff"},
        expect_code="F401", fix_all=True, files=files,
    )

    assert result["fix_result"]["started"] is True
    assert result["questions"] == [], "Eglot asked before applying the run's edit"
    progress = [line for line in result["echo"] if line.startswith("Stomper: ")]
    assert any("files" in line and "%)" in line for line in progress), result["echo"]
    assert progress[-1].startswith("Stomper: 2 files fixed (5 issues), 0 issues left.")
    assert progress[-1].endswith("Details: M-x stomper-show-log."), progress[-1]
    originals = {path: Path(path).read_text() for path in files}
    for path in files:
        assert "== None" not in result["fixed"][path], path
    assert result["refused"] == {
        str(first): result["fixed"][str(first)],
        str(second): "# typed\n" + result["fixed"][str(second)],
    }
    assert result["refusal"] == "Stomper: other.py was edited since the fix run; nothing undone"
    assert result["undo_error"] is None
    assert result["undone"] == originals
    assert result["undone_modified"] == [False, False]
    assert result["cancel_echo"] == ["Stomper: no fix run to cancel."]
    assert result["log"] == {"file": str(tmp_path / "stomper-lsp.log"), "has_run": True}
