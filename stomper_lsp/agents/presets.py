"""Headless agent CLIs as data: how to call each one, and how to tell it is compatible.

Flags drift between CLI versions, so every flag a preset passes is looked up in the
installed CLI's `--help` before a run starts; a mismatch stops the run with a clear
message instead of failing every file. The prompt always goes by file: argv only carries
a short instruction naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.agents.base import AgentUnavailableError
from stomper_lsp.process import run_process

INSTRUCTION = "Fix the issues listed in {prompt_file}; edit only files in this folder."
HELP_TIMEOUT_S = 30.0
"""Node CLIs start slowly on a loaded machine (`gemini --help` took 5.3 s, measured)."""
_HELP_OUTPUT_LIMIT = 512 * 1024

AGENT_COMMAND_HINT = (
    "Or run another agent: set agent = \"command\" and agent_command = [\"my-agent\", "
    "\"{prompt_file}\"] in your user config or editor settings (placeholders: {prompt_file}, "
    "{prompt_dir}, {file}, {workdir}), or use agent = \"ruff\" for the built-in offline fixer."
)


@dataclass(frozen=True)
class Preset:
    name: str
    """The `agent` setting that selects it."""
    binary: str
    arguments: tuple[str, ...]
    """Everything after the binary; placeholders as in agent_command."""
    install: str
    help_arguments: tuple[str, ...] = ("--help",)
    """Where the flags are documented (a subcommand's help for codex)."""
    state_dirs: tuple[str, ...] = ()
    """Folders the CLI writes besides the sandbox (sessions, caches, its own config):
    confinement lets it write these and nothing else. `~` and `$VAR` are expanded."""
    environment: tuple[tuple[str, str], ...] = ()
    """Variables set for the CLI unless the user set them already."""
    endpoint: str = ""
    """How to point it at a model or gateway, for `stomper agents` and error messages."""
    when_confined: tuple[tuple[str, str], ...] = ()
    """Arguments swapped when Stomper's kernel confinement holds the CLI: a sandbox of its
    own cannot nest inside ours (Codex's bubblewrap fails on the read-only world)."""

    @property
    def required_flags(self) -> tuple[str, ...]:
        """Every flag the preset passes must be known to the installed CLI."""
        return tuple(a for a in self.arguments if a.startswith("-"))

    def argv(self, binary_path: str) -> list[str]:
        return [binary_path, *self.arguments]

    def expanded_state_dirs(self, environ: Mapping[str, str] | None = None) -> list[Path]:
        env = dict(os.environ if environ is None else environ)
        for key, value in self.environment:
            env.setdefault(key, os.path.expanduser(value))
        found: list[Path] = []
        for folder in self.state_dirs:
            expanded = os.path.expanduser(_expand_vars(folder, env))
            if "$" not in expanded:
                found.append(Path(expanded))
        return found

    def agent_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The preset's defaults for variables the user has not set."""
        env = os.environ if environ is None else environ
        return {
            key: os.path.expanduser(value) for key, value in self.environment if key not in env
        }


def _expand_vars(text: str, env: Mapping[str, str]) -> str:
    """`$VAR` and `${VAR:-default}`, as a shell would (without running one)."""

    def value(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        return env.get(name) or (default if default is not None else match[0])

    return re.sub(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}|\$(?P<bare>\w+)",
                  lambda m: value(m) if m["name"] else env.get(m["bare"], m[0]), text)


PRESETS: Mapping[str, Preset] = {
    preset.name: preset
    for preset in (
        # stream-json (with --verbose) logs as it works and survives a kill; the prompt
        # folder is outside the sandbox, which Claude refuses to read unless --add-dir.
        # CLAUDE_CONFIG_DIR keeps all its state in one folder (it saves ~/.claude.json by
        # a rename in $HOME, which confinement keeps read-only).
        Preset(
            "claude", "claude",
            ("-p", INSTRUCTION, "--output-format", "stream-json", "--verbose",
             "--permission-mode", "acceptEdits", "--add-dir", "{prompt_dir}",
             "--no-session-persistence"),
            install="npm install -g @anthropic-ai/claude-code",
            state_dirs=("${CLAUDE_CONFIG_DIR:-~/.claude}",),
            environment=(("CLAUDE_CONFIG_DIR", "~/.claude"),),
            endpoint="ANTHROPIC_API_KEY (or `claude` login); ANTHROPIC_BASE_URL for a gateway",
        ),
        # Unverified: its CLI is on no registry we can install from. Sometimes never
        # exits after finishing: the agent timeout ends it.
        Preset(
            "cursor", "cursor-agent",
            ("-p", "--force", "--trust", "--output-format", "json", INSTRUCTION),
            install="curl https://cursor.com/install -fsS | bash",
            state_dirs=("~/.cursor", "~/.config/cursor"),
            endpoint="CURSOR_API_KEY (or `cursor-agent login`)",
        ),
        # Hangs unless stdin is closed (run_process closes it); read-only unless told.
        Preset(
            "codex", "codex",
            ("exec", "-C", "{workdir}", "--sandbox", "workspace-write", "--json",
             "--ephemeral", "--skip-git-repo-check", INSTRUCTION),
            install="npm install -g @openai/codex",
            help_arguments=("exec", "--help"),
            state_dirs=("${CODEX_HOME:-~/.codex}",),
            when_confined=(("workspace-write", "danger-full-access"),),
            endpoint="OPENAI_API_KEY (or `codex login`); a [model_providers] entry in "
            "$CODEX_HOME/config.toml for a gateway",
        ),
        # Aborts in an untrusted new folder (every sandbox is one) without --skip-trust;
        # read_file outside the workspace fails without --include-directories.
        Preset(
            "gemini", "gemini",
            ("-p", INSTRUCTION, "--approval-mode", "auto_edit", "--skip-trust",
             "--include-directories", "{prompt_dir}"),
            install="npm install -g @google/gemini-cli",
            state_dirs=("~/.gemini",),
            endpoint="GEMINI_API_KEY with security.auth.selectedType = \"gemini-api-key\" in "
            "~/.gemini/settings.json; GOOGLE_GEMINI_BASE_URL for a gateway",
        ),
        # Exits 0 whatever happened: only the re-check tells. --yes-always would accept
        # "add URL" for every rule-docs link and then "install playwright" (pip, apt-get):
        # those, update checks, analytics and its repo map are off. Histories go nowhere.
        # --no-git: it would set git config in the (read-only) shadow; Stomper tracks changes.
        Preset(
            "aider", "aider",
            ("--message-file", "{prompt_file}", "--yes-always", "--no-git",
             "--no-auto-commits", "--no-gitignore", "--no-detect-urls", "--disable-playwright",
             "--no-check-update", "--no-show-release-notes", "--analytics-disable",
             "--no-show-model-warnings", "--map-tokens", "0", "--no-pretty",
             "--no-fancy-input", "--chat-history-file", "/dev/null",
             "--input-history-file", "/dev/null", "{file}"),
            install="python -m pip install aider-install && aider-install",
            state_dirs=("~/.aider",),
            # litellm fetches a price list from the internet at start unless told not to.
            environment=(("LITELLM_LOCAL_MODEL_COST_MAP", "True"),),
            endpoint="AIDER_MODEL (e.g. openai/<name>) with its key (OPENAI_API_KEY ...); "
            "OPENAI_API_BASE for a gateway or a local server",
        ),
    )
}

AIDER_KEYS = (
    "AIDER_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY", "AIDER_OPENAI_API_KEY", "AIDER_ANTHROPIC_API_KEY",
)


def aider_model_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Aider without a model opens a browser login and waits 5 minutes: never start it so."""
    env = os.environ if environ is None else environ
    if any(env.get(key) for key in AIDER_KEYS):
        return True
    config = Path(env.get("HOME", str(Path.home()))) / ".aider.conf.yml"
    try:
        return re.search(r"^\s*model\s*:", config.read_text("utf-8"), re.MULTILINE) is not None
    except OSError:
        return False


def _mentions(help_text: str, flag: str) -> bool:
    """`-p` must appear as a flag of its own, not inside `--permission-mode`."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


def missing_flags(help_text: str, preset: Preset) -> list[str]:
    return [flag for flag in preset.required_flags if not _mentions(help_text, flag)]


def _unavailable(preset: Preset, problem: str) -> AgentUnavailableError:
    return AgentUnavailableError(
        f"The {preset.name} agent cannot run: {problem} Install or update it "
        f"(`{preset.install}`). {AGENT_COMMAND_HINT}",
        agent=preset.name,
        binary=preset.binary,
    )


def missing_binary_error(preset: Preset) -> AgentUnavailableError:
    return _unavailable(preset, f"the `{preset.binary}` command is not on PATH.")


_compatible: set[tuple[str, float]] = set()
"""CLIs found compatible in this process (path, mtime): the language server asks once."""


async def check_compatible(preset: Preset, binary_path: str, cwd: Path) -> None:
    """Raise AgentUnavailableError unless `binary_path`'s help lists every flag we pass."""
    try:
        stamp = (binary_path, os.stat(binary_path).st_mtime)
    except OSError:
        stamp = (binary_path, 0.0)
    if stamp in _compatible:
        return
    await _check_help(preset, binary_path, cwd)
    _compatible.add(stamp)


async def _check_help(preset: Preset, binary_path: str, cwd: Path) -> None:
    help_argv = [binary_path, *preset.help_arguments]
    shown = " ".join([preset.binary, *preset.help_arguments])
    try:
        result = await run_process(
            help_argv, cwd=cwd, timeout=HELP_TIMEOUT_S, output_limit=_HELP_OUTPUT_LIMIT
        )
    except OSError as exc:
        raise _unavailable(
            preset, f"`{binary_path}` could not be started ({exc.strerror or exc})."
        ) from exc
    if result.timed_out:
        raise _unavailable(
            preset, f"`{shown}` did not answer within {HELP_TIMEOUT_S:g} s."
        )
    missing = missing_flags(result.stdout_text + "\n" + result.stderr_text, preset)
    if missing:
        raise _unavailable(
            preset,
            f"the installed `{preset.binary}` ({binary_path}) looks incompatible: `{shown}` "
            f"does not mention {', '.join(missing)}, which Stomper passes.",
        )
