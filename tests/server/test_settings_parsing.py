"""Editor settings, key by key: a bad value costs only itself."""

from __future__ import annotations

import logging

from stomper_lsp.server.settings import ServerOptions, parse_settings, server_options


def test_camel_case_keys_map_onto_the_config_and_the_server() -> None:
    parsed = parse_settings(
        {
            "stomper": {
                "tools": ["ruff"],
                "agentCommand": "my-agent --prompt-file {prompt_file} {file}",
                "maxParallelFiles": 2,
                "ruff_path": "/usr/bin/ruff",
                "debounceMs": 120,
                "logLevel": "debug",
                "lintOnChange": False,
                "maxFileSize": 2048,
            }
        }
    )
    assert parsed.problems == []
    assert parsed.config == {
        "tools": ["ruff"],
        "agent_command": "my-agent --prompt-file {prompt_file} {file}",
        "max_parallel_files": 2,
        "ruff_path": "/usr/bin/ruff",
    }
    assert server_options(parsed) == ServerOptions(
        lint_on_change=False, debounce_s=0.12, max_file_size=2048, log_level=logging.DEBUG
    )


def test_bad_values_are_named_and_dropped_alone() -> None:
    parsed = parse_settings(
        {"tools": ["pylint"], "select": ["F"], "debounceMs": -1, "colour": "red", "agent": None}
    )
    assert parsed.config == {"select": ["F"]}
    assert [p.split(":")[0] for p in parsed.problems] == [
        "setting 'tools' is invalid",
        "setting 'debounceMs' is invalid",
        "unknown setting 'colour'. Known settings",
    ]


def test_junk_is_no_settings() -> None:
    for junk in (None, 42, "stomper", ["tools"], {"stomper": None}):
        parsed = parse_settings(junk)
        assert parsed.config == {} and parsed.problems == []


def test_a_folder_scope_overrides_the_global_one() -> None:
    global_, folder = parse_settings({"debounceMs": 10, "logLevel": "error"}), parse_settings(
        {"debounceMs": 300}
    )
    options = server_options(global_, folder)
    assert options.debounce_s == 0.3 and options.log_level == logging.ERROR


def test_an_empty_lua_table_is_no_settings_not_an_unknown_key() -> None:
    """Neovim's Lua encodes `{ stomper = {} }` as {"stomper": []}."""
    parsed = parse_settings({"stomper": []})
    assert parsed.problems == []
    assert parsed.config == {}


def test_rule_selection_settings_are_the_cli_flags() -> None:
    parsed = parse_settings(
        {"select": ["F"], "extendSelect": ["B904"], "targetVersion": "py310", "ignore": ["x y"]}
    )
    assert parsed.config == {"select": ["F"], "extend_select": ["B904"], "target_version": "py310"}
    assert len(parsed.problems) == 1 and "'ignore'" in parsed.problems[0]
