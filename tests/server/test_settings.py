"""Settings from initializationOptions, workspace/configuration and didChangeConfiguration,
per workspace folder, merged over the repository's [tool.stomper]; and the trust line."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.server.editor import Editor
from tests.server.helpers import (
    capabilities,
    codes,
    eventually_visible,
    start,
    uri,
    wait_until,
    write_project,
)

UNUSED = "import os\n"


async def test_invalid_settings_are_named_and_the_rest_still_applies(
    editor: Editor, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "proj", {"app.py": UNUSED})
    settings = {"tools": ["ruff"], "maxParallelFiles": 99, "colour": "blue", "debounceMs": "fast"}
    await start(editor, root, "emacs", settings=settings)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    warnings = [m.message for m in editor.client.messages if m.type == types.MessageType.Warning]
    assert any("'maxParallelFiles' is invalid" in m for m in warnings), warnings
    assert any("unknown setting 'colour'" in m for m in warnings), warnings
    assert any("'debounceMs' is invalid" in m for m in warnings), warnings
    assert len(warnings) == 3


async def test_each_folder_has_its_own_settings(editor: Editor, tmp_path: Path) -> None:
    """Multi-root: folder `quiet` ignores F401 through its configuration scope."""
    source = UNUSED + "print(undefined)\n"
    loud = write_project(tmp_path / "loud", {"app.py": source})
    quiet = write_project(tmp_path / "quiet", {"app.py": source})
    editor.client.set_configuration({"tools": ["ruff"], "select": ["F"]}, section="stomper")
    editor.client.set_configuration(
        {"ignore": ["F401"]}, section="stomper", scope_uri=uri(quiet)
    )
    await start(editor, None, "visual-studio-code", folders=[loud, quiet])
    loud_doc = editor.open(loud / "app.py")
    quiet_doc = editor.open(quiet / "app.py")
    await eventually_visible(editor.client, loud_doc, lambda d: codes(d) == {"F401", "F821"})
    await eventually_visible(editor.client, quiet_doc, lambda d: codes(d) == {"F821"})


async def test_configuration_change_is_pulled_and_rechecks(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": UNUSED})
    editor.client.set_configuration({"tools": ["ruff"]}, section="stomper")
    await start(editor, root, "visual-studio-code")
    await wait_until(lambda: editor.registrations)
    assert [r.method for r in editor.registrations] == ["workspace/didChangeConfiguration"]
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    editor.client.set_configuration({"tools": ["ruff"], "ignore": ["F"]}, section="stomper")
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=None)
    )
    await eventually_visible(editor.client, doc, lambda d: not d)


async def test_configuration_change_pushed_by_a_client_without_configuration(
    editor: Editor, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "proj", {"app.py": UNUSED})
    caps = capabilities("emacs")
    assert caps.workspace is not None
    caps.workspace.configuration = False
    result = await editor.client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=uri(root),
            initialization_options={"stomper": {"tools": ["ruff"]}},
        )
    )
    editor.negotiated(result)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"stomper": {"tools": ["ruff"], "ignore": ["F"]}}
        )
    )
    await eventually_visible(editor.client, doc, lambda d: not d)


HOSTILE_PYPROJECT = """\
[tool.stomper]
ruff_path = "./evil.sh"
agent = "command"
agent_command = ["./evil.sh"]
max_parallel_files = 2
"""
EVIL = "#!/bin/sh\ntouch \"$(dirname \"$0\")/pwned\"\n"


async def test_a_hostile_repository_runs_nothing_it_names(editor: Editor, tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        {
            "pyproject.toml": HOSTILE_PYPROJECT,
            "evil.sh": EVIL,
            ".venv/bin/ruff": EVIL,
            ".venv/bin/python": EVIL,
            "app.py": UNUSED,
        },
    )
    for script in ("evil.sh", ".venv/bin/ruff", ".venv/bin/python"):
        (root / script).chmod(0o755)
    await start(editor, root, "emacs", settings={"tools": ["ruff"]})
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    warnings = " ".join(m.message for m in editor.client.messages)
    assert "'ruff_path' is ignored" in warnings and "'agent_command' is ignored" in warnings
    await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.fixAll", arguments=[])
    )
    await wait_until(
        lambda: any(m.message.startswith("Stomper: 1 file") for m in editor.client.messages),
        timeout=60,
    )
    assert editor.text(doc) == ""  # fixed by the built-in ruff agent, not by ./evil.sh
    assert not (root / "pwned").exists() and not (root / ".venv/bin/pwned").exists()
