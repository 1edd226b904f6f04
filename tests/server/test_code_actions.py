"""Quick fixes, suppressions and the Stomper source actions, applied by a real editor."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.server.editor import Editor
from tests.server.helpers import capabilities, codes, eventually_visible, start, write_project

RUFF_ONLY = {"tools": ["ruff"]}


async def actions_at(
    editor: Editor,
    doc: str,
    line: int,
    only: list[str] | None = None,
    diagnostics: list[types.Diagnostic] | None = None,
) -> list[types.CodeAction]:
    """The actions for the whole `line` (or, with `diagnostics`, at its first column with
    those diagnostics as context, the way Neovim asks)."""
    end = types.Position(line=line, character=0) if diagnostics else types.Position(
        line=line + 1, character=0
    )
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(doc),
            range=types.Range(start=types.Position(line=line, character=0), end=end),
            context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
        )
    )
    assert result is not None
    assert all(isinstance(a, types.CodeAction) for a in result), result
    return [a for a in result if isinstance(a, types.CodeAction)]


def apply(editor: Editor, action: types.CodeAction) -> None:
    assert action.edit is not None
    response = editor.apply(types.ApplyWorkspaceEditParams(edit=action.edit))
    assert response.applied, response


async def test_quick_fix_and_noqa(editor: Editor, preset: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\nimport sys\n\nprint(sys)\n"})
    await start(editor, root, preset, settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: "F401" in codes(d))
    actions = await actions_at(editor, doc, 0)
    titles = [a.title for a in actions]
    assert titles[:2] == [
        "Ruff (F401): Remove unused import: `os`",
        "Ruff (F401): Disable F401 for this line",
    ]
    assert actions[0].kind == types.CodeActionKind.QuickFix and actions[0].is_preferred
    assert actions[0].diagnostics and actions[0].diagnostics[0].code == "F401"
    noqa = actions[1]
    apply(editor, noqa)
    assert editor.text(doc) == "import os  # noqa: F401\nimport sys\n\nprint(sys)\n"
    await eventually_visible(editor.client, doc, lambda d: "F401" not in codes(d))
    editor.set_text(doc, "import os\nimport sys\n\nprint(sys)\n")
    shown = await eventually_visible(editor.client, doc, lambda d: "F401" in codes(d))
    at_cursor = await actions_at(editor, doc, 0, diagnostics=shown)
    apply(editor, at_cursor[0])
    assert editor.text(doc) == "import sys\n\nprint(sys)\n"


async def test_unsafe_fixes_say_so_and_are_not_preferred(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "def f():\n    x = 1\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: "F841" in codes(d))
    fix = (await actions_at(editor, doc, 1))[0]
    assert fix.title.startswith("Ruff (F841): Remove assignment to unused variable")
    assert fix.title.endswith("(unsafe fix: check the result)") and not fix.is_preferred


async def test_noqa_joins_an_existing_suppression(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os, sys  # noqa: E401\n"})
    await start(editor, root, "emacs", settings={"tools": ["ruff"], "select": ["F401"]})
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: "F401" in codes(d))
    noqa = next(a for a in await actions_at(editor, doc, 0) if "Disable" in a.title)
    apply(editor, noqa)
    assert editor.text(doc) == "import os, sys  # noqa: E401, F401\n"


async def test_noqa_goes_after_a_multiline_string(editor: Editor, tmp_path: Path) -> None:
    """Inside the string a comment would be text; ruff reads the noqa after its end."""
    root = write_project(tmp_path / "proj", {"app.py": 'x = f"""\n{undefined}\n"""\n'})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: "F821" in codes(d))
    noqa = next(a for a in await actions_at(editor, doc, 1) if "Disable" in a.title)
    apply(editor, noqa)
    assert editor.text(doc) == 'x = f"""\n{undefined}\n"""  # noqa: F821\n'
    await eventually_visible(editor.client, doc, lambda d: "F821" not in codes(d))


async def test_mypy_ignore_for_this_line(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"t.py": "x: int = 'a'\n"})
    await start(editor, root, "emacs", settings={"tools": ["mypy"]})
    doc = editor.open(root / "t.py")
    await eventually_visible(editor.client, doc, lambda d: "assignment" in codes(d))
    (ignore,) = await actions_at(editor, doc, 0, only=["quickfix"])
    assert ignore.title == "Mypy (assignment): Ignore [assignment] for this line"
    apply(editor, ignore)
    assert editor.text(doc) == "x: int = 'a'  # type: ignore[assignment]\n"


async def test_source_actions_carry_the_fix_commands(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: bool(d))
    source = await actions_at(editor, doc, 0, only=["source.stomper"])
    assert [(a.title, a.kind) for a in source] == [
        ("Fix this file with Stomper", "source.stomper.fixFile"),
        ("Fix all with Stomper", "source.stomper.fixAll"),
    ]
    assert source[0].command is not None and source[0].command.command == "stomper.fixFile"
    assert list(source[0].command.arguments or []) == [doc]
    assert source[1].command is not None and source[1].command.command == "stomper.fixAll"
    assert list(source[1].command.arguments or []) == [root.as_uri()]
    # The Source Action menu (`only: ["source"]`) lists the edits and the runs.
    menu = await actions_at(editor, doc, 0, only=["source"])
    assert [a.kind for a in menu] == [
        "source.fixAll.stomper", "source.organizeImports.stomper",
        "source.stomper.fixFile", "source.stomper.fixAll",
    ]
    assert await actions_at(editor, doc, 0, only=["refactor"]) == []


ON_SAVE_TEXT = "import sys\nimport os\nx = 1  \nprint(os, sys)\nif x == None:\n    pass\n"


async def on_save_request(editor: Editor, doc: str, kind: str) -> list[types.CodeAction]:
    """What VS Code sends for `editor.codeActionsOnSave: {kind: "explicit"}`."""
    text = editor.text(doc)
    lines = text.splitlines()
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(doc),
            range=types.Range(start=types.Position(0, 0),
                              end=types.Position(len(lines) - 1, len(lines[-1]))),
            context=types.CodeActionContext(
                diagnostics=[], only=[kind], trigger_kind=types.CodeActionTriggerKind.Automatic
            ),
        )
    )
    assert result is not None
    return [a for a in result if isinstance(a, types.CodeAction)]


async def test_on_save_fix_all_is_an_instant_ruff_edit_of_the_unsaved_text(
    editor: Editor, preset: str, tmp_path: Path
) -> None:
    """Never a background run: the save gets ruff's safe fixes of the buffer, as ruff's
    server answers, and the file on disk is not touched."""
    root = write_project(tmp_path / "proj", {"app.py": "print(1)\n"})
    (root / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "E", "I"]\n')
    await start(editor, root, preset, settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    editor.set_text(doc, ON_SAVE_TEXT)  # unsaved
    for kind in ("source.fixAll", "source.fixAll.stomper"):
        (fix_all,) = await on_save_request(editor, doc, kind)
        assert fix_all.kind == "source.fixAll.stomper" and fix_all.command is None
        assert fix_all.title == "Stomper: Fix all auto-fixable problems (ruff)"
    apply(editor, fix_all)
    # E711 (`== None`) is an unsafe fix: left alone; imports sorted, as `I` is selected.
    assert editor.text(doc) == (
        "import os\nimport sys\n\nx = 1  \nprint(os, sys)\nif x == None:\n    pass\n"
    )
    assert (root / "app.py").read_text() == "print(1)\n"
    (again,) = await on_save_request(editor, doc, "source.fixAll")
    assert again.edit is None  # nothing left to fix: no edit, the save goes on clean


async def test_on_save_organize_imports_sorts_only_imports(
    editor: Editor, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "proj", {"app.py": ON_SAVE_TEXT})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    for kind in ("source.organizeImports", "source.organizeImports.stomper"):
        (organize,) = await on_save_request(editor, doc, kind)
        assert organize.kind == "source.organizeImports.stomper"
    apply(editor, organize)
    assert editor.text(doc) == (
        "import os\nimport sys\n\nx = 1  \nprint(os, sys)\nif x == None:\n    pass\n"
    )


async def test_an_automatic_request_never_offers_a_run(editor: Editor, tmp_path: Path) -> None:
    """`codeActionsOnSave: {"source": ...}` or a lightbulb: no agent run, whatever the kind."""
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    for kind in ("source", "source.stomper", "source.stomper.fixFile"):
        actions = await on_save_request(editor, doc, kind)
        assert all(a.command is None for a in actions), (kind, actions)
        assert all(not str(a.kind).startswith("source.stomper") for a in actions)


async def test_a_client_without_code_action_literals_gets_commands(
    editor: Editor, tmp_path: Path
) -> None:
    """LSP before 3.8: code actions are bare Commands, so only the commands are offered."""
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    caps = capabilities("emacs")
    assert caps.text_document is not None
    caps.text_document.code_action = None
    editor.negotiated(
        await editor.client.initialize_session(
            types.InitializeParams(capabilities=caps, root_uri=root.as_uri(),
                                   initialization_options=RUFF_ONLY)
        )
    )
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: bool(d))
    result = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(doc),
            range=types.Range(start=types.Position(0, 0), end=types.Position(1, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert result is not None
    assert [(type(c).__name__, c.title) for c in result] == [
        ("Command", "Fix this file with Stomper"),
        ("Command", "Fix all with Stomper"),
    ]
