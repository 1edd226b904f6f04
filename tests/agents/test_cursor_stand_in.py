"""The Cursor preset against a stand-in for `cursor-agent`, since its CLI is on no registry
CI can install from (docs/agents.md says the preset is unverified against the real one).

The stand-in follows Cursor's documented headless interface: `cursor-agent -p --force
--trust --output-format json PROMPT` in the working folder, a final JSON object with
`type: "result"` on stdout. Like the scripted model, it edits only when it can read the
issue list in the prompt file the instruction names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

STOMPER = str(Path(sys.executable).parent / "stomper")
BROKEN = "import os\n\n\ndef f() -> int:\n    return 1\n"
STAND_IN = r'''#!PYTHON
import json, pathlib, re, sys
args = sys.argv[1:]
if "--help" in args:
    print("Usage: cursor-agent [options] [prompt]\n  -p, --print\n  --force\n  --trust\n"
          "  --output-format <format>  text | json | stream-json")
    sys.exit(0)
needed = {"-p", "--force", "--trust", "--output-format"}
if not needed <= set(args):
    missing = sorted(needed - set(args))
    print(json.dumps({"type": "result", "is_error": True, "result": f"missing {missing}"}))
    sys.exit(2)
prompt = args[-1]
found = re.search(r"(/\S+?\.md)", prompt)
text = pathlib.Path(found.group(1)).read_text() if found else ""
target = re.search(r"`([^`]+\.py)`", text)
if "F401" in text and target:
    path = pathlib.Path(target.group(1))
    path.write_text(path.read_text().replace("import os\n", "", 1))
    print(json.dumps({"type": "result", "subtype": "success", "is_error": False,
                      "result": "removed the unused import"}))
else:
    print(json.dumps({"type": "result", "is_error": True, "result": "no task found"}))
    sys.exit(1)
'''


def _fix_with_stand_in(
    make_repo: Any, tmp_path: Path, stand_in: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`stomper fix --agent cursor` with `stand_in` as the `cursor-agent` on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "cursor-agent"
    cli.write_text(stand_in.replace("PYTHON", sys.executable, 1))
    cli.chmod(0o755)
    root = make_repo({"mod.py": BROKEN})
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "h")}
    proc = subprocess.run(
        [STOMPER, "fix", "--json", "--agent", "cursor", "--tools", "ruff", "--max-attempts", "1"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return root, proc


def test_the_cursor_preset_fixes_a_file_through_a_stand_in(
    make_repo: Any, tmp_path: Path
) -> None:
    root, proc = _fix_with_stand_in(make_repo, tmp_path, STAND_IN)
    report = json.loads(proc.stdout)
    [outcome] = report["files"]
    assert outcome["status"] == "fixed", (outcome, proc.stderr[-2000:])
    assert (root / "mod.py").read_text() == "\n\ndef f() -> int:\n    return 1\n"
    assert proc.returncode == 0


def test_a_cursor_that_cannot_read_its_task_is_a_named_failure(
    make_repo: Any, tmp_path: Path
) -> None:
    blind = STAND_IN.replace('"F401" in text', "False")
    root, proc = _fix_with_stand_in(make_repo, tmp_path, blind)
    [outcome] = json.loads(proc.stdout)["files"]
    assert outcome["status"] == "failed"
    assert "no task found" in outcome["message"] or "exit 1" in outcome["message"], outcome
    assert (root / "mod.py").read_text() == BROKEN
