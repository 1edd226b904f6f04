"""Start-up: command line, transports, the log file, and the early `initialize` answer."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import client_capabilities, make_test_lsp_client

from stomper_lsp import __version__
from stomper_lsp.server.fast_start import initialize_result
from stomper_lsp.server.server import build_server
from tests.server.editor import Editor
from tests.server.helpers import SERVER_COMMAND, codes, eventually_visible, start, write_project

SCRIPT = Path(sys.executable).parent / "stomper-lsp"


@pytest.mark.parametrize("command", [SERVER_COMMAND, [str(SCRIPT)]], ids=["-m", "script"])
def test_version_and_help(command: list[str]) -> None:
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"stomper-lsp {__version__}"
    usage = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True)
    assert "--tcp HOST:PORT" in usage.stdout and "--log-file" in usage.stdout
    bad = subprocess.run([*command, "--tcp", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


class _Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def _pygls_answer(params: types.InitializeParams) -> Any:
    server = build_server()
    capture = _Capture()
    server.protocol.set_writer(capture, include_headers=False)
    payload = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": default_converter().unstructure(params)}
    message = json.loads(json.dumps(payload), object_hook=server.protocol.structure_message)
    server.protocol.handle_message(message)
    return json.loads(capture.sent[-1])["result"], payload["params"]


@pytest.mark.parametrize(
    "client", ["visual-studio-code", "neovim@v0.10.0", "neovim", "emacs", "none"]
)
def test_early_initialize_answer_is_what_pygls_answers(client: str) -> None:
    caps = types.ClientCapabilities() if client == "none" else client_capabilities(client)
    pygls_result, params = _pygls_answer(types.InitializeParams(capabilities=caps))
    assert initialize_result(params) == pygls_result


async def test_tcp_transport(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*SERVER_COMMAND, "--tcp", f"127.0.0.1:{port}"])
    client = make_test_lsp_client()
    try:
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        editor = Editor(client)
        editor.install()
        await start(editor, root, "emacs", settings={"tools": ["ruff"]})
        doc = editor.open(root / "app.py")
        await eventually_visible(client, doc, lambda d: codes(d) == {"F401"})
        await client.shutdown_async(None)
        client.exit(None)
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        await client.stop()


async def test_log_file_gets_the_log_and_stdout_only_the_protocol(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    log = tmp_path / "stomper.log"
    client = make_test_lsp_client()
    await client.start_io(*SERVER_COMMAND, "--log-file", str(log), "--log-level", "debug")
    editor = Editor(client)
    editor.install()
    await start(editor, root, "neovim", settings={"tools": ["ruff"]})
    doc = editor.open(root / "app.py")
    await eventually_visible(client, doc, lambda d: codes(d) == {"F401"})
    await client.shutdown_session()
    await client.stop()
    text = log.read_text()
    assert "Stomper 0.1.0 ready: 1 folder(s)" in text
    assert any("ready" in m.message for m in client.log_messages)  # the client got it too
