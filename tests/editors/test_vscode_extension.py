"""The VS Code extension compiles from its lockfile, and its package.json matches the
server: the same command ids, every setting accepted, the same defaults and choices, and
program-naming settings readable from user settings only."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.config.model import AGENT_NAMES, TOOL_NAMES, StomperConfig
from stomper_lsp.server.run_progress import progress_message
from stomper_lsp.server.settings import (
    ServerOptions,
    parse_settings,
    server_options,
    snake_case,
)
from stomper_lsp.workflow.report import ProgressEvent
from tests.editors.server_facts import (
    EDITORS,
    USER_ONLY_KEYS,
    advertised_commands,
    server_only_keys,
    server_setting_keys,
)
from tests.server.helpers import FAKE_AGENT

EXTENSION = EDITORS / "vscode"
CLIENT_COMMANDS = {"stomper.restart", "stomper.showLog"}
"""Handled by the extension itself (extension.ts registers them)."""
LAUNCH_SETTINGS = {"path", "interpreter", "logFile", "trace.server"}
"""How to start the server: read by the extension, never sent to the server."""


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXTENSION / "package.json").read_text())
    return data


def properties() -> dict[str, dict[str, Any]]:
    props: dict[str, dict[str, Any]] = manifest()["contributes"]["configuration"]["properties"]
    assert all(name.startswith("stomper.") for name in props)
    return {name.removeprefix("stomper."): spec for name, spec in props.items()}


def server_properties() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in properties().items() if k not in LAUNCH_SETTINGS}


def accepted_log_levels() -> list[str]:
    """The choices the server's own error message offers for a bad logLevel."""
    problems = parse_settings({"logLevel": "no-such-level"}).problems
    assert len(problems) == 1 and "must be one of " in problems[0], problems
    return problems[0].split("must be one of ", 1)[1].split(" (got", 1)[0].split(", ")


def sample(spec: dict[str, Any]) -> object:
    """A valid value for a setting whose default is null."""
    choices = [choice for choice in spec.get("enum", []) if choice is not None]
    if choices:
        return choices[0]
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    return ["program", "{file}"] if "array" in kinds else "/usr/bin/program"


async def test_commands_are_the_servers() -> None:
    declared = {c["command"] for c in manifest()["contributes"]["commands"]}
    advertised = set(await advertised_commands())
    assert declared - CLIENT_COMMANDS == advertised
    source = (EXTENSION / "src" / "extension.ts").read_text()
    for command in CLIENT_COMMANDS:
        assert f'registerCommand("{command}"' in source, command
    for menu in manifest()["contributes"]["menus"].values():
        for entry in menu:
            assert entry["command"] in declared, entry


def test_every_server_setting_is_contributed_and_accepted() -> None:
    props = server_properties()
    assert sorted(props) == sorted(server_setting_keys())
    for key, spec in props.items():
        value = spec["default"] if spec["default"] is not None else sample(spec)
        parsed = parse_settings({"stomper": {key: value}})
        assert parsed.problems == [], (key, parsed.problems)
        assert parsed.config or parsed.server, f"{key} was accepted but went nowhere"


def test_defaults_and_choices_match_the_server() -> None:
    props = server_properties()
    config_defaults = StomperConfig().model_dump()
    for key, spec in props.items():
        if key in server_only_keys():
            continue
        assert spec["default"] == config_defaults[snake_case(key)], key
    server_defaults = {k: props[k]["default"] for k in server_only_keys()}
    assert server_options(parse_settings(server_defaults)) == ServerOptions()
    assert props["agent"]["enum"] == list(AGENT_NAMES)
    assert len(props["agent"]["enumDescriptions"]) == len(AGENT_NAMES)
    assert props["tools"]["items"]["enum"] == list(TOOL_NAMES)
    assert props["logLevel"]["enum"] == accepted_log_levels()


def test_program_settings_come_from_user_settings_only() -> None:
    """`machine` scope: VS Code ignores them in a workspace's .vscode/settings.json."""
    props = properties()
    machine = {key for key, spec in props.items() if spec.get("scope") == "machine"}
    assert machine == USER_ONLY_KEYS | {"path", "interpreter", "logFile"}


def test_restricted_mode_is_limited_and_guards_program_settings() -> None:
    """In an untrusted workspace the extension runs (diagnostics, quick fixes) with every
    setting that names or loosens what runs restricted to the user's own settings; the
    extension sends trustWorkspace=false and refuses fix runs (src/restricted.ts)."""
    untrusted = manifest()["capabilities"]["untrustedWorkspaces"]
    assert untrusted["supported"] == "limited"
    restricted = {name.removeprefix("stomper.") for name in untrusted["restrictedConfigurations"]}
    machine = {key for key, spec in properties().items() if spec.get("scope") == "machine"}
    assert machine | {"agent"} == restricted
    assert "trustWorkspace" in restricted


def test_menu_titles_name_stomper() -> None:
    """Context menus show a command's title without its category."""
    commands = {c["command"]: c for c in manifest()["contributes"]["commands"]}
    for command in commands.values():
        assert command["title"].startswith("Stomper: "), command
        assert "category" not in command, command  # else the palette says "Stomper: Stomper: …"
    for menu in ("editor/context", "explorer/context"):
        for entry in manifest()["contributes"]["menus"][menu]:
            assert commands[entry["command"]]["title"].startswith("Stomper: "), entry


def test_the_status_item_reads_the_servers_progress_messages() -> None:
    """runStatus.ts reads "n of m" out of the server's progress text with this pattern."""
    pattern = r"^(\d+)/(\d+) files\b"
    assert "/^(\\d+)\\/(\\d+) files\\b/" in (EXTENSION / "src" / "runStatus.ts").read_text()
    event = ProgressEvent(kind="merged", path="pkg/mod.py", done=3, total=10, running=2)
    match = re.match(pattern, progress_message(event))
    assert match and match.groups() == ("3", "10"), progress_message(event)


@pytest.fixture(scope="module")
def built_extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the extension after `npm ci` and `npm run bundle` (tsc, then esbuild)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (Debian: apt-get install npm)")
    work = tmp_path_factory.mktemp("vscode") / "vscode"
    shutil.copytree(EXTENSION, work, ignore=shutil.ignore_patterns("node_modules", "out", "dist"))
    assert (work / "package-lock.json").is_file(), "package-lock.json must be committed"
    for argv in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "bundle"]):
        proc = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=300, check=False,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout}\n{proc.stderr}"
    return work


@pytest.mark.slow
def test_extension_compiles_from_its_lockfile(built_extension: Path, tmp_path: Path) -> None:
    """The bundle (package.json's `main`) loads with only `vscode` outside it, and the
    extension's own unit tests pass under node's test runner: settings scopes, command
    arguments, server discovery, Restricted Mode, the status item, and the progress
    notification and its Cancel against a stand-in for VS Code."""
    npm = shutil.which("npm")
    assert npm is not None
    proc = subprocess.run(
        [npm, "test"], cwd=built_extension, capture_output=True, text=True, timeout=300,
        check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"npm test:\n{proc.stdout}\n{proc.stderr}"
    assert manifest()["main"] == "./dist/extension.js"
    bundle = built_extension / "dist" / "extension.js"
    assert bundle.is_file()
    node = shutil.which("node")
    assert node is not None
    script = (
        "const Module = require('module'); const load = Module._load;"
        "Module._load = function (request, ...rest) {"
        " if (request === 'vscode') return new Proxy({}, { get: () => function () {} });"
        " return load.call(this, request, ...rest); };"
        f"const ext = require({json.dumps(str(bundle))});"
        "if (typeof ext.activate !== 'function' || typeof ext.deactivate !== 'function')"
        " { throw new Error('activate/deactivate not exported'); }"
    )
    check = subprocess.run(
        [node, "-e", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def drive(
    extension: Path, root: Path, scenario: str, *, path: str | None = None, **options: object
) -> dict[str, Any]:
    """Run src/test/driveExtension.ts: the real bundled extension, vscode-languageclient
    inside, under node with a recording stand-in for VS Code, against a real server."""
    node = shutil.which("node")
    assert node is not None
    env = dict(os.environ, PATH=path) if path is not None else None
    proc = subprocess.run(
        [node, str(extension / "out" / "test" / "driveExtension.js"), str(extension), str(root),
         scenario, json.dumps(options)],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, Any] = json.loads(proc.stdout)
    return seen


def project(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "mod.py").write_text(text)
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True)
    return root


INTERPRETER = {"interpreter": [sys.executable], "tools": ["ruff"]}
STARTED_FROM_INTERPRETER = [
    f"Starting the server (from stomper.interpreter): {sys.executable} -m stomper_lsp"
]


@pytest.mark.slow
def test_the_real_extension_cancels_a_run_from_its_notification(
    built_extension: Path, tmp_path: Path
) -> None:
    """Fix all shows a cancellable notification (not the client's status-bar progress), its
    Cancel stops the run through window/workDoneProgress/cancel, the status item follows,
    and cancel with nothing running says so."""
    root = project(tmp_path / "proj", "import os\n")
    hanging = [sys.executable, str(FAKE_AGENT), "{file}", "--hang"]
    settings = {**INTERPRETER, "agent": "command", "agentCommand": hanging, "maxAttempts": 1}
    seen = drive(built_extension, root, "cancel", settings=settings)
    assert seen["result"]["started"] is True
    assert seen["output"] == STARTED_FROM_INTERPRETER
    notification = seen["notification"]
    assert notification["options"] == {
        "location": 15, "title": "Stomper: fixing proj", "cancellable": True,
    }  # 15: vscode.ProgressLocation.Notification
    assert any("1 running" in (r.get("message") or "") for r in notification["reports"])
    assert seen["statusWhileFixing"] == "$(sync~spin) Stomper: fixing 0 of 1"
    assert seen["statusAfter"] == "$(check) Stomper"
    assert seen["cancelled"]["message"] == "Stomper: fix run cancelled; nothing was changed."
    assert seen["nothing"]["message"] == "Stomper: no fix run to cancel."
    assert (root / "mod.py").read_text() == "import os\n"


@pytest.mark.slow
def test_the_real_extensions_summary_has_show_log(built_extension: Path, tmp_path: Path) -> None:
    root = project(tmp_path / "proj", "import os\nimport sys\n\nprint(sys)\n")
    seen = drive(built_extension, root, "summary", settings=INTERPRETER)
    summary = seen["summary"]
    assert summary["message"].startswith("Stomper: 1 file fixed (1 issue), 0 issues left.")
    assert summary["actions"] == ["Show log"]  # clicked: the driver waited for the log
    assert seen["statusAfter"] == "$(check) Stomper"
    assert "Last run: 1 file fixed" in seen["statusTooltip"]


@pytest.mark.slow
def test_the_real_extension_in_restricted_mode(built_extension: Path, tmp_path: Path) -> None:
    """The server still starts (diagnostics, quick fixes); the user is told what is off,
    and Fix all is refused before it reaches the server."""
    root = project(tmp_path / "proj", "import os\n")
    seen = drive(built_extension, root, "restricted", settings=INTERPRETER, trusted=False)
    assert seen["output"] == STARTED_FROM_INTERPRETER
    assert seen["notice"]["message"].startswith("Stomper is in Restricted Mode")
    assert seen["notice"]["actions"] == ["Manage Workspace Trust"]
    assert "fix runs are off in Restricted Mode" in seen["warning"]["message"]
    assert seen["refused"] is None and seen["notifications"] == 0
    assert seen["status"] == "$(shield) Stomper"


@pytest.mark.slow
def test_the_real_extension_finds_the_python_extensions_interpreter(
    built_extension: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj", "import os\n")
    node = shutil.which("node")
    assert node is not None
    bare_path = os.pathsep.join(str(Path(p).parent) for p in (node, "/bin/sh"))
    if shutil.which("stomper-lsp", path=bare_path):
        pytest.skip(f"stomper-lsp is installed system-wide ({bare_path}): PATH would win")
    seen = drive(built_extension, root, "started", path=bare_path, settings={},
                 python=sys.executable)
    assert seen["output"] == [
        f"Starting the server (from the Python extension's interpreter): {sys.executable}"
        " -m stomper_lsp"
    ]
    # The workspace's own interpreter is passed over (and not run): every place is named,
    # and Open Settings lands on the remote's settings in a remote window.
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    seen = drive(built_extension, root, "missing", path=bare_path, settings={},
                 python=str(venv / "python"), remoteName="ssh-remote")
    error = seen["error"]["message"]
    for tried in ("stomper.path (not set)", "stomper.interpreter (not set)",
                  f"the Python extension's interpreter {venv / 'python'} (it is inside the "
                  "workspace", "`stomper-lsp` on PATH (not found)"):
        assert tried in error, error
    assert seen["opened"] == ["workbench.action.openRemoteSettings",
                              {"query": "@ext:stomper.stomper"}]


def test_the_vsix_ships_the_bundle_only() -> None:
    """`.vscodeignore` keeps sources, tests and node_modules out of the .vsix; vsce comes
    from its own lockfile (packaging/), so building and testing the extension skip its
    ~200 packages. .ci/package builds the .vsix and fails unless it holds the bundle and
    at most 20 files."""
    ignore = (EXTENSION / ".vscodeignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "**" and "!dist/extension.js" in rules
    assert not any(rule.startswith("!") and "packaging" in rule for rule in rules)
    assert "vsce package --no-dependencies" in manifest()["scripts"]["package"]
    assert "esbuild" in manifest()["scripts"]["bundle"]
    assert "@vscode/vsce" not in manifest()["devDependencies"]
    assert (EXTENSION / "packaging" / "package-lock.json").is_file()
