"""Opening a folder runs no code from it: mypy's plugins and python_executable from the
repository's config run only once the user trusts the workspace (`trustWorkspace`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.editor import Editor
from tests.server.helpers import codes, eventually_visible, start, write_project

PYPROJECT = """\
[tool.mypy]
plugins = ["evil_plugin.py"]
python_executable = "$MYPY_CONFIG_FILE_DIR/evil_python"
strict = true
"""
PLUGIN = """\
import pathlib
pathlib.Path(__file__).with_name("plugin-ran").touch()
from mypy.plugin import Plugin
def plugin(version):
    return Plugin
"""
PYTHON = '#!/bin/sh\ntouch "$(dirname "$0")/python-ran"\nexec python3 "$@"\n'
APP = 'def f(x):\n    return x\n\n\ncount: int = "many"\n'


def _project(tmp_path: Path) -> Path:
    root = write_project(
        tmp_path / "proj",
        {"pyproject.toml": PYPROJECT, "evil_plugin.py": PLUGIN, "evil_python": PYTHON,
         "app.py": APP},
    )
    (root / "evil_python").chmod(0o755)
    return root


@pytest.mark.slow
async def test_mypy_runs_no_repository_code_in_an_untrusted_workspace(
    editor: Editor, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    await start(editor, root, "neovim", settings={"tools": ["mypy"]})
    doc = editor.open(root / "app.py")
    # strict still applies (no-untyped-def): only the code-running keys were dropped.
    await eventually_visible(
        editor.client, doc, lambda d: {"assignment", "no-untyped-def"} <= codes(d), timeout=60
    )
    editor.save(doc)
    await eventually_visible(editor.client, doc, lambda d: "assignment" in codes(d), timeout=60)
    assert not (root / "plugin-ran").exists()
    assert not (root / "python-ran").exists()


@pytest.mark.slow
async def test_a_trusted_workspace_gets_its_mypy_plugins(editor: Editor, tmp_path: Path) -> None:
    root = _project(tmp_path)
    await start(editor, root, "neovim", settings={"tools": ["mypy"], "trustWorkspace": True})
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: "assignment" in codes(d), timeout=60)
    assert (root / "plugin-ran").exists()
    assert (root / "python-ran").exists()
