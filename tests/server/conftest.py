"""Real server processes driven by pytest-lsp, on real git repositories in tmp_path."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.editor import Editor
from tests.server.helpers import PRESETS, SERVER_COMMAND


@pytest.fixture(autouse=True, scope="session")
def _server_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers inherit the environment: keep their mypy caches and run logs in tmp."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    os.environ["STOMPER_LOG_DIR"] = str(cache / "logs")
    os.environ["STOMPER_SANDBOX_DIR"] = str(tmp_path_factory.mktemp("sandboxes"))


@pytest.fixture(params=PRESETS)
def preset(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A fresh server per test; the test initializes it with the workspace it needs."""
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(client: LanguageClient) -> Editor:
    """The test's editor: answers applyEdit and registerCapability like a real one."""
    editor = Editor(client)
    editor.install()
    fix_code_action_parsing(client)
    return editor


def fix_code_action_parsing(client: LanguageClient) -> None:
    """lsprotocol parses every CodeAction that carries a `command` as a Command; real
    clients look at the type of `command` (a string only in a Command)."""
    converter = client.protocol._converter

    def hook(value: Any, _: type) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(value.get("command"), str) else types.CodeAction
        return converter.structure(value, kind)  # type: ignore[no-any-return]

    converter.register_structure_hook(types.Command | types.CodeAction, hook)
