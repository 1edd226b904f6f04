"""Bad requests get a JSON-RPC error or a no-op, never a dead server."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcMethodNotFound

from tests.server.editor import Editor
from tests.server.helpers import codes, eventually_visible, start, uri, wait_until, write_project

RUFF_ONLY = {"tools": ["ruff"]}


async def still_alive(editor: Editor, doc: str) -> None:
    """The server answers and still checks: the acid test after each abuse."""
    editor.set_text(doc, editor.text(doc) + "import sys\n")
    await eventually_visible(editor.client, doc, lambda d: len(d) >= 2)


async def execute(editor: Editor, command: str, *arguments: object) -> object:
    return await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


@pytest.fixture
async def session(editor: Editor, tmp_path: Path) -> tuple[Editor, Path, str]:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n", "README.md": "# hi\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    return editor, root, doc


BAD_COMMANDS: list[tuple[str, list[object], type[JsonRpcException], str]] = [
    ("stomper.nope", [], JsonRpcInvalidParams, "not defined"),
    ("stomper.fixFile", [], JsonRpcInvalidParams, "needs the URI"),
    ("stomper.fixFile", [42], JsonRpcInvalidParams, "expects a URI string"),
    ("stomper.fixFile", ["a", "b"], JsonRpcInvalidParams, "at most one argument"),
    ("stomper.fixFile", ["untitled:Untitled-1"], JsonRpcInvalidParams, "not a file: URI"),
    ("stomper.fixFile", ["file:///elsewhere/x.py"], JsonRpcInvalidParams, "outside every"),
    ("stomper.fixAll", [{"no": "uri"}], JsonRpcInvalidParams, "expects a URI string"),
    ("stomper.fixAll", ["file:///elsewhere"], JsonRpcInvalidParams, "outside every"),
    ("stomper.cancel", [[1, 2]], JsonRpcInvalidParams, "expects a URI string"),
]


async def test_bad_commands_get_an_error(session: tuple[Editor, Path, str]) -> None:
    editor, root, doc = session
    for command, arguments, error, says in BAD_COMMANDS:
        with pytest.raises(error, match=says):
            await execute(editor, command, *arguments)
    with pytest.raises(JsonRpcInvalidParams, match="not a Python file"):
        await execute(editor, "stomper.fixFile", uri(root / "README.md"))
    await still_alive(editor, doc)


async def raw_request(editor: Editor, method: str, params: object) -> object:
    """Send bytes no typed client would produce, and await the server's answer."""
    server = editor.client._server
    assert server is not None and server.stdin is not None
    msg_id = f"raw-{method}"
    answer: Future[object] = Future()
    editor.client.protocol._request_futures[msg_id] = answer
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    server.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
    return await asyncio.wait_for(asyncio.wrap_future(answer), 10)


async def test_unknown_method_and_malformed_params(session: tuple[Editor, Path, str]) -> None:
    editor, _, doc = session
    with pytest.raises(JsonRpcMethodNotFound):
        await raw_request(editor, "stomper/bogus", {})
    with pytest.raises(JsonRpcInvalidParams, match="textDocument/codeAction"):
        await raw_request(editor, "textDocument/codeAction", {"textDocument": 5})
    with pytest.raises(JsonRpcInvalidParams, match="textDocument/diagnostic"):
        await raw_request(editor, "textDocument/diagnostic", [])
    await still_alive(editor, doc)


async def test_garbage_on_the_wire(session: tuple[Editor, Path, str]) -> None:
    editor, _, doc = session
    server = editor.client._server
    assert server is not None and server.stdin is not None
    server.stdin.write(b"Content-Length: 9\r\n\r\n{garbage}")
    await still_alive(editor, doc)


async def test_documents_stomper_does_not_check(session: tuple[Editor, Path, str]) -> None:
    """Not Python, not a file, outside every folder, never opened: no-ops, not errors."""
    editor, root, doc = session
    client = editor.client
    readme = editor.open(root / "README.md")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri="untitled:Untitled-1", language_id="python", version=1, text="import os\n"
            )
        )
    )
    outside = root.parent / "outside.py"
    outside.write_text("import os\n")
    outside_doc = editor.open(outside)
    client.text_document_did_change(  # a change for a document that was never opened
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(root / "x.py"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="import os\n")],
        )
    )
    for other in (readme, "untitled:Untitled-1", outside_doc):
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(other),
                range=types.Range(start=types.Position(0, 0), end=types.Position(1, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert not actions
    await still_alive(editor, doc)
    assert not {readme, "untitled:Untitled-1", outside_doc} & set(client.diagnostics)


async def test_huge_files_are_not_checked(editor: Editor, tmp_path: Path) -> None:
    big = "import os\n" + "x = 1\n" * 200_000  # 1.2 MB
    root = write_project(tmp_path / "proj", {"big.py": big, "app.py": "import os\n"})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    big_doc = editor.open(root / "big.py")
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    message = await wait_until(
        lambda: next((m for m in editor.client.messages if "maxFileSize" in m.message), None)
    )
    assert "big.py" in message.message
    editor.set_text(big_doc, big + "y = 2\n")
    await still_alive(editor, doc)
    assert big_doc not in editor.client.diagnostics
    assert sum("maxFileSize" in m.message for m in editor.client.messages) == 1


async def test_requests_after_shutdown_get_an_error(session: tuple[Editor, Path, str]) -> None:
    editor, _, doc = session
    await editor.client.shutdown_async(None)
    with pytest.raises(JsonRpcException, match="shutting down"):
        await editor.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(doc),
                range=types.Range(start=types.Position(0, 0), end=types.Position(1, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    with pytest.raises(JsonRpcException, match="shutting down"):
        await execute(editor, "stomper.fixAll")


async def test_a_file_opened_without_any_workspace_folder(editor: Editor, tmp_path: Path) -> None:
    """No folder at all (`hx file.py`, `vim file.py`): the file's project is the folder;
    a command's URI argument never makes some other folder one."""
    root = write_project(tmp_path / "proj", {"pyproject.toml": "", "app.py": "import os\n"})
    await start(editor, None, "emacs", settings=RUFF_ONLY)
    doc = editor.open(root / "app.py")
    await eventually_visible(editor.client, doc, lambda d: codes(d) == {"F401"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(JsonRpcInvalidParams, match="outside every"):
        await execute(editor, "stomper.fixAll", uri(elsewhere))
    result = await execute(editor, "stomper.fixFile", doc)
    assert isinstance(result, dict) and result["folder"] == uri(root)
    await execute(editor, "stomper.cancel")
