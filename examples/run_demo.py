"""The README's "see it work" command: check and fix a throwaway copy of examples/demo.

The copy lives in a temporary folder, made into a git repository (Stomper fixes in git
worktrees), so this clone stays clean. The built-in ruff agent needs no network or model:
it fixes what ruff can fix and honestly leaves mypy's type errors for a real agent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEMO = Path(__file__).resolve().parent / "demo"
BIN = Path(sys.executable).parent
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Stomper demo",
    "GIT_AUTHOR_EMAIL": "demo@stomper.invalid",
    "GIT_COMMITTER_NAME": "Stomper demo",
    "GIT_COMMITTER_EMAIL": "demo@stomper.invalid",
}


def step(title: str, *argv: str, cwd: Path) -> int:
    print(f"\n$ {' '.join(argv)}    # {title}", flush=True)
    return subprocess.run(argv, cwd=cwd, env=GIT_ENV, check=False).returncode


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="stomper-demo-")) / "demo"
    shutil.copytree(DEMO, work, ignore=shutil.ignore_patterns(".*_cache", "__pycache__"))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "demo as shipped"]):
        subprocess.run(["git", *args], cwd=work, env=GIT_ENV, check=True)
    print(f"Working on a copy of examples/demo in {work}")
    stomper = str(BIN / "stomper")
    step("what is wrong", stomper, "check", cwd=work)
    code = step("fix it: built-in ruff agent, 4 files at once", stomper, "fix", cwd=work)
    step("what Stomper changed", "git", "--no-pager", "diff", "--stat", cwd=work)
    step("what is left (mypy's type errors need an AI agent)", stomper, "check", cwd=work)
    print(f"\nThe fixed copy stays in {work}; remove it when done.")
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
