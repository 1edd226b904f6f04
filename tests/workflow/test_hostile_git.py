"""An agent cannot make Stomper's own git run its programs.

The agent below plants what real agents (or a hostile repository's instructions) can: a
`.gitattributes` naming a filter, the filter's command in the shadow's config through `git
config`, a filter in the shadow's `info/attributes`, a `process` filter that never answers,
a hook in the shadow, and a global ~/.gitconfig. Each planted program writes a marker; the
run must finish quickly, fix the file, and no marker may appear from Stomper's git.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.sandbox.layout import shadow_dir_for
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from tests.workflow.repos import BROKEN, FIXED, load, user_state

_AGENT = r'''
import os, pathlib, subprocess, sys
target, markers = sys.argv[1], pathlib.Path(sys.argv[2])
def git(*args):
    subprocess.run(["git", *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)
evil = markers / "evil.sh"
hung = markers / "hung.sh"
git("config", "filter.evil.clean", f"{evil} clean")
git("config", "filter.evil.smudge", f"{evil} smudge")
git("config", "filter.hung.process", str(hung))
git("config", "filter.hung.required", "true")
git("config", "core.fsmonitor", f"{evil} fsmonitor")
common = pathlib.Path(subprocess.run(
    ["git", "rev-parse", "--git-common-dir"], capture_output=True, text=True, check=True
).stdout.strip()).resolve()
(common / "info").mkdir(exist_ok=True)
(common / "info" / "attributes").write_text("*.py filter=hung\n")
(common / "hooks").mkdir(exist_ok=True)
hook = common / "hooks" / "post-checkout"
hook.write_text(f"#!/bin/sh\n{evil} hook\n")
hook.chmod(0o755)
home = pathlib.Path(os.environ["HOME"])
(home / ".gitconfig").write_text(f"[filter \"evil\"]\n\tclean = {evil} global\n")
pathlib.Path(".gitattributes").write_text("* filter=evil\n")
text = pathlib.Path(target).read_text()
pathlib.Path(target).write_text(text.replace("import os\n\n\n", "").replace("== None", "is None"))
'''


def _script(path: Path, body: str) -> Path:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.slow
async def test_planted_filters_hooks_and_config_never_run(
    make_repo: Any, tmp_path: Path, sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"mod.py": BROKEN})
    markers = tmp_path / "markers"
    markers.mkdir()
    _script(markers / "evil.sh", f"#!/bin/sh\necho \"$1\" >> {markers}/ran\ncat\n")
    _script(markers / "hung.sh", f"#!/bin/sh\necho process >> {markers}/ran\nsleep 600\n")
    agent = _script(tmp_path / "agent.py", _AGENT)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # Confinement alone would stop these plantings (the shadow and $HOME are read-only to
    # agents); open them up so this test proves the second line: Stomper's own git.
    shadow = shadow_dir_for(sandbox_base.resolve(), root.resolve())
    with Path(os.environ["STOMPER_CONFIG"]).open("a", encoding="utf-8") as config:
        config.write(f"agent_writable_dirs = [{str(shadow)!r}, {str(home)!r}]\n")
    before = user_state(root)
    started = time.monotonic()
    report = await run_fix(
        load(
            root,
            agent="command",
            agent_command=[sys.executable, str(agent), "{file}", str(markers)],
            max_attempts=1,
        )
    )
    elapsed = time.monotonic() - started
    assert not (markers / "ran").exists(), (markers / "ran").read_text()
    assert elapsed < 30, f"the run took {elapsed:.0f} s: some git command stalled"
    [outcome] = report.files
    assert outcome.status == FileStatus.FIXED, outcome.message
    assert [c.new_text for c in report.changes] == [FIXED]
    assert ".gitattributes" in outcome.attempt_reports[0].left_out
    assert user_state(root) == before
    # Nothing the agent planted survives in the shadow for the next run.
    [shadow] = list(sandbox_base.rglob("shadow.git"))
    assert not (shadow / "hooks" / "post-checkout").exists()
    assert b"evil" not in (shadow / "config").read_bytes()
    assert not (shadow / "info" / "attributes").exists()

