"""`--executor ray` set up wrong: a clear message at once, the user's repository untouched."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.workflow.repos import BROKEN, user_state

NO_RAY = """
import sys
sys.modules["ray"] = None  # as if the extra were not installed
from stomper_lsp.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _stomper(root: Path, *args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    program = ["-c", script] if script else ["-m", "stomper_lsp.cli.main"]
    return subprocess.run(
        [sys.executable, *program, "fix", "--tools", "ruff", *args],
        cwd=root, capture_output=True, text=True, timeout=120,
    )


def test_without_the_extra_it_says_how_to_install_it(make_repo: Any) -> None:
    root = make_repo({"m.py": BROKEN})
    before = user_state(root)
    done = _stomper(root, "--executor", "ray", script=NO_RAY)
    assert done.returncode == 2, done.stderr
    assert "pip install 'stomper-lsp[ray]'" in done.stderr
    assert user_state(root) == before


def test_a_dead_address_fails_fast_naming_it(make_repo: Any) -> None:
    root = make_repo({"m.py": BROKEN})
    before = user_state(root)
    started = time.monotonic()
    done = _stomper(root, "--ray-address", "127.0.0.1:1")  # implies --executor ray
    assert done.returncode == 2, done.stderr
    assert "nothing answers at the Ray address '127.0.0.1:1'" in done.stderr
    assert "stomper_slot" in done.stderr
    assert time.monotonic() - started < 30  # Ray alone retries for minutes
    assert user_state(root) == before


def test_a_repository_cannot_send_its_code_to_a_cluster(make_repo: Any) -> None:
    root = make_repo({"m.py": BROKEN})
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.stomper]\nexecutor = "ray"\n'
                         'ray_address = "203.0.113.9:6379"\n')
    done = subprocess.run(
        [sys.executable, "-m", "stomper_lsp.cli.main", "check", "--tools", "ruff"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert "'executor' is ignored: a repository cannot send your code" in done.stderr
    assert "'ray_address' is ignored" in done.stderr
