"""`--untrusted`: the CLI runs nothing from the repository (by default it trusts the
repository the user chose to run it in, and docs/cli.md lists what that runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.test_check import Stomper, stomper, tool_caches, write

__all__ = ["stomper", "tool_caches"]  # fixtures shared with test_check.py

PYPROJECT = """\
[tool.mypy]
plugins = ["evil_plugin.py"]

[tool.stomper]
test_command = "./evil.sh"
"""
PLUGIN = """\
import pathlib
pathlib.Path(__file__).with_name("plugin-ran").touch()
from mypy.plugin import Plugin
def plugin(version):
    return Plugin
"""
EVIL = '#!/bin/sh\ntouch "$(dirname "$0")/venv-ran"\nexit 1\n'


def _project(root: Path) -> Path:
    write(root, {
        "pyproject.toml": PYPROJECT, "evil_plugin.py": PLUGIN, "app.py": 'x: int = "s"\n',
        ".venv/bin/ruff": EVIL, ".venv/bin/python": EVIL, "evil.sh": EVIL,
    })
    for name in (".venv/bin/ruff", ".venv/bin/python", "evil.sh"):
        (root / name).chmod(0o755)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_untrusted_check_runs_no_repository_code(stomper: Stomper, tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    run = stomper("check", "--untrusted", "--json", cwd=root)
    assert run.returncode == 1, run
    assert '"assignment"' in run.stdout
    assert not (root / "plugin-ran").exists()
    assert not (root / ".venv" / "bin" / "venv-ran").exists()
    assert "test_command" in run.stderr  # the repository's test command is named as ignored


def test_by_default_the_cli_trusts_the_repository(stomper: Stomper, tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    for name in ("ruff", "python"):
        (root / ".venv" / "bin" / name).unlink()
    run = stomper("check", "--tools", "mypy", cwd=root)
    assert run.returncode == 1, run
    assert (root / "plugin-ran").exists()
