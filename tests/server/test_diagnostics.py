"""ruff and mypy diagnostics, pushed or pulled, against the real server process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from tests.server.editor import Editor
from tests.server.helpers import codes, eventually_visible, start, wait_until, write_project

RUFF_ONLY = {"tools": ["ruff"]}


async def test_ruff_diagnostics_on_open_and_change(
    editor: Editor, preset: str, tmp_path: Path
) -> None:
    client = editor.client
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, preset, settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    diagnostics = await eventually_visible(client, doc, lambda d: bool(d))
    assert codes(diagnostics) == {"F401"}
    first = diagnostics[0]
    assert first.source == "Ruff"
    assert first.severity == types.DiagnosticSeverity.Warning
    assert first.range.start == types.Position(line=0, character=7)
    if preset != "emacs":  # eglot does not declare diagnostic data support
        assert first.data == {"fingerprint": first.data["fingerprint"], "tool": "ruff"}
    else:
        assert first.data is None
    editor.set_text(doc, "import os\nimport sys\n\nprint(os)\n")
    diagnostics = await eventually_visible(
        client, doc, lambda d: bool(d) and d[0].range.start.line == 1
    )
    assert [d.message for d in diagnostics] == ["`sys` imported but unused"]


TYPED = "def double(x: int) -> int:\n    return 2 * x\n\n\nvalue = double('a')\n"


async def test_mypy_follows_the_unsaved_buffer(
    editor: Editor, preset: str, tmp_path: Path
) -> None:
    """mypy reads the buffers (`--shadow-file`): its findings move with unsaved text, as
    after a fix-all, and the file on disk is never written."""
    client = editor.client
    root = write_project(tmp_path / "proj", {"typed.py": TYPED})
    # VS Code pulls and can be asked to refresh; Neovim pulls (ruff) but gets mypy pushed.
    await start(editor, root, preset, pull=preset == "visual-studio-code")
    doc = editor.open(root / "typed.py")
    shown = await eventually_visible(client, doc, lambda d: "arg-type" in codes(d))
    mypy = next(d for d in shown if d.code == "arg-type")
    assert mypy.source == "Mypy"
    assert mypy.severity == types.DiagnosticSeverity.Error
    assert mypy.range.start == types.Position(line=4, character=15)

    def arg_type_lines(d: list[types.Diagnostic]) -> list[int]:
        return [x.range.start.line for x in d if x.code == "arg-type"]

    editor.set_text(doc, "import os\n\n" + TYPED)  # unsaved: two lines above
    await eventually_visible(client, doc, lambda d: arg_type_lines(d) == [6])
    # Fixed, still unsaved, and the same size as the file on disk (mypy's cache judges
    # freshness by the disk file's size and mtime).
    editor.set_text(doc, TYPED.replace("'a'", "211"))
    await eventually_visible(client, doc, lambda d: "arg-type" not in codes(d))
    assert (root / "typed.py").read_text() == TYPED
    editor.save(doc)  # the save agrees with the buffer
    await asyncio.sleep(0.3)
    assert "arg-type" not in codes(await eventually_visible(client, doc, lambda d: True))
    if preset == "visual-studio-code":
        assert client.diagnostic_refresh_count >= 1


async def test_another_modules_unsaved_text_reaches_mypy(
    editor: Editor, tmp_path: Path
) -> None:
    """A dirty buffer changes the types the other open modules see."""
    client = editor.client
    root = write_project(tmp_path / "proj", {
        "lib.py": "def name() -> str:\n    return 'a'\n",
        "use.py": "from lib import name\n\nlength: int = name()\n",
    })
    await start(editor, root, "neovim", settings={"tools": ["mypy"]})
    lib = editor.open(root / "lib.py")
    use = editor.open(root / "use.py")
    await eventually_visible(client, use, lambda d: "assignment" in codes(d))
    editor.set_text(lib, "def name() -> int:\n    return 1\n")
    await eventually_visible(client, use, lambda d: "assignment" not in codes(d))
    await eventually_visible(client, lib, lambda d: not d)


async def test_a_burst_of_keystrokes_is_debounced_and_never_published_stale(
    editor: Editor, tmp_path: Path
) -> None:
    client = editor.client
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    published: list[types.PublishDiagnosticsParams] = []
    settings = {"tools": ["ruff"], "select": ["F401"], "debounceMs": 200}
    await start(editor, root, "emacs", settings=settings)
    doc = editor.open(root / "app.py")
    await eventually_visible(client, doc, lambda d: codes(d) == {"F401"})
    client.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = published.append
    lines = ["import os"]
    for i in range(20):  # typing one statement per keystroke, faster than ruff runs
        lines.append(f"import mod{i}")
        editor.set_text(doc, "\n".join(lines) + "\n")
        await asyncio.sleep(0.01)
    final = editor.buffers[doc].version
    await wait_until(lambda: published and published[-1].version == final)
    await asyncio.sleep(0.5)  # anything still in flight would land now
    versions = [p.version or 0 for p in published]
    assert versions == sorted(versions) and versions[-1] == final
    assert len(published) < 10, versions  # 20 changes, a handful of runs
    assert len(published[-1].diagnostics) == 21  # the final text, every import unused


async def test_closing_clears_diagnostics(editor: Editor, tmp_path: Path) -> None:
    client = editor.client
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(client, doc, lambda d: bool(d))
    editor.close(doc)
    await wait_until(lambda: len(client.diagnostics.get(doc, [None])) == 0)


async def test_tags_and_rule_links(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    (unused,) = await eventually_visible(editor.client, doc, lambda d: bool(d))
    assert list(unused.tags or []) == [types.DiagnosticTag.Unnecessary]
    assert unused.code_description is not None
    assert unused.code_description.href == "https://docs.astral.sh/ruff/rules/unused-import"


async def test_a_missing_checker_is_reported_once(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"a.py": "import os\n", "b.py": "import sys\n"})
    await start(editor, root, "emacs", settings={"tools": ["ruff"], "ruffPath": "/no/ruff"})
    docs = [editor.open(root / "a.py"), editor.open(root / "b.py")]
    for i in range(5):
        editor.set_text(docs[i % 2], f"x = {i}\n")
        await asyncio.sleep(0.1)
    errors = await wait_until(
        lambda: [m for m in editor.client.messages if m.type == types.MessageType.Error]
    )
    await asyncio.sleep(0.5)
    assert len(errors) == 1 and "/no/ruff" in errors[0].message
    assert len([m for m in editor.client.messages if m.type == types.MessageType.Error]) == 1


async def test_form_feeds_do_not_shift_lines(editor: Editor, tmp_path: Path) -> None:
    """LSP counts lines at \\n, \\r\\n and \\r only; a form feed is not a line break."""
    source = "x = 1  # page\x0cbreak\nimport os\n"
    root = write_project(tmp_path / "proj", {"app.py": source})
    result = await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    sync = result.capabilities.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Full
    doc = editor.open(root / "app.py")
    (unused,) = await eventually_visible(editor.client, doc, lambda d: "F401" in codes(d))
    assert unused.range.start == types.Position(line=1, character=7)


async def test_a_pull_right_after_open_is_answered_with_the_diagnostics(
    editor: Editor, tmp_path: Path
) -> None:
    """Neovim 0.10+ pulls at once after didOpen and cannot be asked to refresh: the first
    answer must already hold ruff's findings, not an empty report."""
    client = editor.client
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(doc))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport), report
    assert codes(list(report.items)) == {"F401"}
