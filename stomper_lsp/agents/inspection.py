"""`stomper agents`: what each agent CLI needs, checked on this machine before a run does.

A missing CLI, an incompatible version or a model nobody configured each fail a whole run;
here they are found in seconds, each with what to do about it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stomper_lsp.agents.base import AgentUnavailableError
from stomper_lsp.agents.presets import (
    PRESETS,
    Preset,
    aider_model_configured,
    check_compatible,
)
from stomper_lsp.process import run_process

_VERSION_TIMEOUT_S = 30.0


@dataclass
class AgentInspection:
    name: str
    binary: str
    path: str | None = None
    version: str | None = None
    flags_compatible: bool | None = None
    endpoint_configured: bool = False
    problems: list[str] = field(default_factory=list)
    """Each one says what to do about it."""

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ready": self.ready}


def _exists(path: str) -> bool:
    return Path(os.path.expanduser(path)).exists()


def endpoint_configured(name: str, env: Mapping[str, str]) -> bool:
    """Whether the CLI has a key or a login to reach a model with (not whether it works)."""
    codex_home = env.get("CODEX_HOME") or "~/.codex"
    claude_dir = env.get("CLAUDE_CONFIG_DIR") or "~/.claude"
    checks: dict[str, bool] = {
        "claude": any(env.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                                            "CLAUDE_CODE_OAUTH_TOKEN"))
        or _exists(f"{claude_dir}/.credentials.json"),
        "codex": bool(env.get("OPENAI_API_KEY")) or _exists(f"{codex_home}/auth.json")
        or _mentions_provider(Path(os.path.expanduser(codex_home)) / "config.toml"),
        "gemini": any(env.get(k) for k in ("GEMINI_API_KEY", "GOOGLE_API_KEY",
                                            "GOOGLE_GENAI_USE_VERTEXAI"))
        or _exists("~/.gemini/oauth_creds.json"),
        "aider": aider_model_configured(env),
        "cursor": bool(env.get("CURSOR_API_KEY")) or _exists("~/.cursor/cli-config.json"),
    }
    return checks.get(name, False)


def _mentions_provider(config: Path) -> bool:
    try:
        return "model_provider" in config.read_text("utf-8")
    except OSError:
        return False


async def _version(path: str) -> str | None:
    try:
        result = await run_process([path, "--version"], cwd=Path.cwd(),
                                   timeout=_VERSION_TIMEOUT_S, output_limit=64 * 1024)
    except OSError:
        return None
    text = (result.stdout_text.strip() or result.stderr_text.strip()).splitlines()
    return text[0].strip() if text and not result.timed_out else None


async def inspect_agent(preset: Preset, env: Mapping[str, str] | None = None) -> AgentInspection:
    env = os.environ if env is None else env
    found = AgentInspection(preset.name, preset.binary, path=shutil.which(preset.binary))
    if found.path is None:
        found.problems.append(f"`{preset.binary}` is not on PATH: install it (`{preset.install}`).")
    else:
        found.version = await _version(found.path)
        try:
            await check_compatible(preset, found.path, Path.cwd())
            found.flags_compatible = True
        except AgentUnavailableError as exc:
            found.flags_compatible = False
            found.problems.append(str(exc))
    found.endpoint_configured = endpoint_configured(preset.name, env)
    if not found.endpoint_configured:
        found.problems.append(f"no model or key configured: set {preset.endpoint} "
                              "(docs/agents.md).")
    return found


async def inspect_agents() -> list[AgentInspection]:
    return list(await asyncio.gather(*(inspect_agent(p) for p in PRESETS.values())))
