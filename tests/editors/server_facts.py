"""What the real server advertises and accepts, for checking the editor integrations."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from stomper_lsp.config.model import (
    COMMAND_KEYS,
    CONFINEMENT_KEYS,
    EXECUTION_KEYS,
    StomperConfig,
)
from stomper_lsp.server.settings import USER_ONLY_SERVER_KEYS, camel_case, parse_settings

SERVER = Path(sys.executable).parent / "stomper-lsp"
EDITORS = Path(__file__).resolve().parents[2] / "editors"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "editors.md"
# A repository may not set these (loader drops them from [tool.stomper]; test_command too,
# unless the CLI user trusts the project): editors must read them from user settings only.
USER_ONLY_KEYS = frozenset(
    camel_case(k)
    for k in COMMAND_KEYS | CONFINEMENT_KEYS | EXECUTION_KEYS | {"test_command"}
    | USER_ONLY_SERVER_KEYS
)


def server_setting_keys() -> list[str]:
    """Every editor setting the server knows, camelCase: the list its own "unknown
    setting" message gives the user."""
    problems = parse_settings({"noSuchSetting": 1}).problems
    assert len(problems) == 1 and "Known settings: " in problems[0], problems
    return problems[0].split("Known settings: ", 1)[1].split(", ")


def server_only_keys() -> list[str]:
    """Settings of the language server alone (not StomperConfig keys)."""
    config = {camel_case(k) for k in StomperConfig.model_fields}
    return [key for key in server_setting_keys() if key not in config]


async def advertised_commands() -> list[str]:
    """`executeCommandProvider.commands` from a real `initialize` of `stomper-lsp`."""
    client = LanguageClient("stomper-editor-tests", "0")
    await client.start_io(str(SERVER))
    try:
        result = await asyncio.wait_for(
            client.initialize_async(
                types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=None)
            ),
            30,
        )
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
    finally:
        await client.stop()  # type: ignore[no-untyped-call]  # untyped in pygls 2.1
    provider = result.capabilities.execute_command_provider
    assert provider is not None, "the server advertises no commands"
    return list(provider.commands)
