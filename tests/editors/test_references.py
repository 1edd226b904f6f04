"""The editor files and docs/editors.md name only what the server has: its command ids,
its setting keys, and the same program-naming keys as the config loader."""

from __future__ import annotations

import re
import tomllib

from stomper_lsp.server.settings import parse_settings, snake_case
from tests.editors.server_facts import (
    DOCS,
    EDITORS,
    USER_ONLY_KEYS,
    advertised_commands,
    server_setting_keys,
)

QUOTED_COMMAND = re.compile(r'"(stomper\.[A-Za-z]+)"')


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first table under `## heading` (header and rule excluded)."""
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: list[str] = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break  # the first table ends at its first other line
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


async def test_plugins_call_only_server_commands() -> None:
    advertised = set(await advertised_commands())
    for plugin in (EDITORS / "neovim" / "lua" / "stomper" / "init.lua",
                   EDITORS / "emacs" / "stomper.el"):
        used = set(QUOTED_COMMAND.findall(plugin.read_text()))
        assert used == advertised, plugin


async def test_docs_list_every_command() -> None:
    rows = table_rows(DOCS.read_text(), "Commands")
    assert [row[0].strip("`") for row in rows] == await advertised_commands()


def test_docs_list_every_setting_and_who_may_set_it() -> None:
    rows = table_rows(DOCS.read_text(), "Settings")
    keys = [row[0].strip("`") for row in rows]
    assert sorted(keys) == sorted(server_setting_keys())
    user_only = {row[0].strip("`") for row in rows if row[-1] == "**you only**"}
    assert user_only == USER_ONLY_KEYS


def test_emacs_drops_exactly_the_program_settings_from_dir_locals() -> None:
    source = (EDITORS / "emacs" / "stomper.el").read_text()
    block = source.split("(defconst stomper--user-only-keys", 1)[1].split('"', 1)[0]
    listed = set(re.findall(r":([A-Za-z_]+)", block))
    spellings = USER_ONLY_KEYS | {snake_case(key) for key in USER_ONLY_KEYS}
    assert listed == spellings


def test_helix_config_is_accepted_by_the_server() -> None:
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = config["language-server"]["stomper"]
    assert server["command"] == "stomper-lsp"
    # Helix sends `config` as initializationOptions and answers workspace/configuration
    # for the `stomper` section by walking into it: both must reach the settings.
    parsed = parse_settings(server["config"])
    assert parsed.problems == []
    assert parsed.config["agent"] == "ruff"
    assert parse_settings(server["config"]["stomper"]).config == parsed.config
    python = next(lang for lang in config["language"] if lang["name"] == "python")
    assert "stomper" in python["language-servers"]
