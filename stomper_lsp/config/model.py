"""The settings model. Field docs double as the reference in docs/configuration.md."""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ToolName = Literal["ruff", "mypy"]
TOOL_NAMES: tuple[str, ...] = ("ruff", "mypy")
AgentName = Literal["ruff", "claude", "cursor", "codex", "gemini", "aider", "command"]
AGENT_NAMES: tuple[str, ...] = ("ruff", "claude", "cursor", "codex", "gemini", "aider", "command")

# Keys that make Stomper execute something. A repository must not be able to set them
# (design invariant 6): they come from the user's own config, editor settings or CLI flags.
COMMAND_KEYS: frozenset[str] = frozenset({"agent_command", "ruff_path", "mypy_path", "python"})
# Keys that loosen the agents' confinement: as dangerous in a repository's hands.
CONFINEMENT_KEYS: frozenset[str] = frozenset({"allow_unconfined", "agent_writable_dirs"})
# Keys that send the snapshot (the user's code, unsaved text included) to other machines.
EXECUTION_KEYS: frozenset[str] = frozenset({"executor", "ray_address"})
ExecutorName = Literal["local", "ray"]
EXECUTOR_NAMES: tuple[str, ...] = ("local", "ray")


# ruff selectors (F, E7, PLR0913, ALL) or mypy error codes (arg-type, union-attr).
_CODE = re.compile(r"[A-Z]+[0-9]*|[a-z][a-z0-9-]*")
_TARGET_VERSION = re.compile(r"py3[0-9]{1,2}")


def _split_command(value: object) -> object:
    if isinstance(value, str):
        return shlex.split(value)
    return value


class StomperConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: list[ToolName] = Field(
        default_factory=lambda: list[ToolName](["ruff", "mypy"]), description="Checkers to run."
    )
    select: list[str] = Field(
        default_factory=list,
        description="Rules to check, as ruff's `--select`: ruff codes and prefixes (`F`, "
        "`B904`, `ALL`) reach ruff as `--select`, replacing the rules your ruff config selects "
        "(its other settings still apply); mypy codes (`arg-type`) keep only those mypy "
        "errors. Empty: what the tools' own configs select.",
    )
    extend_select: list[str] = Field(
        default_factory=list,
        description="Rules to check on top of the selection, as ruff's `--extend-select` "
        "(ruff codes reach ruff as `--extend-select`; mypy codes widen `select`).",
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Rules never to check, as ruff's `--ignore` (ruff codes reach ruff as "
        "`--ignore`; mypy codes are dropped from mypy's report).",
    )
    target_version: str | None = Field(
        default=None,
        description="Python version ruff assumes, as ruff's `--target-version` (`py39`, "
        "`py312`). Default: what your ruff config or `requires-python` says.",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Glob patterns (relative to the project root) of files to check. "
        "Empty: every Python file that git does not ignore.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Glob patterns of files never to check or fix."
    )
    agent: AgentName = Field(
        default="ruff",
        description="Agent that fixes files: the built-in offline `ruff` fixer, a preset "
        "(`claude`, `cursor`, `codex`, `gemini`, `aider`) or `command` (uses agent_command).",
    )
    agent_command: list[str] | None = Field(
        default=None,
        description="argv template for the `command` agent, with {prompt_file}, {file} and "
        "{workdir} placeholders. User config, editor settings or CLI only.",
    )
    max_parallel_files: int = Field(
        default=4, ge=1, le=32, description="Files fixed at once (1-32)."
    )
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Agent attempts per file, each with feedback (1-10)."
    )
    agent_timeout: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description="Seconds one agent attempt may run before it is killed.",
    )
    checker_timeout: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds one ruff or mypy run may take."
    )
    test_command: list[str] | None = Field(
        default=None,
        description="Command that must pass in the sandbox before a fix is accepted "
        "(a string is split like a shell would, but no shell runs it). It runs in the "
        "sandbox's copy of the project; placeholders {workdir} (that folder) and {file} (the "
        "fixed file, or in batch mode every fixed file of the batch: a word that is exactly "
        "{file} becomes one argument per file, inside a longer word they are shell-quoted "
        "and space-separated; they are source files, not their tests); leading NAME=value "
        "words set environment variables.",
    )
    test_mode: Literal["batch", "per-file"] = Field(
        default="batch",
        description="How test_command verifies fixes. `batch`: like a merge queue, every "
        "file's checker-verified fix goes into one suite run, split in halves only when it "
        "fails, so a run where nothing breaks costs one suite run; a file whose fix breaks "
        "the tests is not delivered. `per-file`: every attempt of every file runs the suite "
        "(a failing one is retried with the failure as feedback).",
    )
    test_bisect_budget: int = Field(
        default=8,
        ge=0,
        le=100,
        description="Test runs one file may spend narrowing down a fix the tests reject "
        "(0-100): the built-in agent's rules are left out one at a time by bisection, then "
        "single fixes, and the largest set that passes the tests is kept (every kept set "
        "passed a test run on exactly its bytes). 0: a rejected attempt is dropped whole, "
        "as before. In batch mode it applies to each file the queue finds breaking the tests.",
    )
    python: str | None = Field(
        default=None,
        description="Interpreter whose packages mypy resolves imports from. Default: the "
        "project's .venv or venv. User config, editor settings or CLI only.",
    )
    ruff_path: str | None = Field(
        default=None, description="Explicit ruff binary. Not from the repo."
    )
    mypy_path: str | None = Field(
        default=None, description="Explicit mypy binary. Not from the repo."
    )

    allow_unconfined: bool = Field(
        default=False,
        description="Run agents even where the machine offers no way to confine them "
        "(no bubblewrap, no Landlock); such attempts run one at a time and are rejected when "
        "anything outside their sandbox changes. User config, editor settings or CLI "
        "(`--allow-unconfined`) only.",
    )
    agent_writable_dirs: list[str] = Field(
        default_factory=list,
        description="Extra folders confined agents may write (besides their sandbox, a private "
        "temp folder and their CLI's state folders), e.g. a shared cache. User config, editor "
        "settings or CLI only.",
    )

    executor: ExecutorName = Field(
        default="local",
        description="Where each file's agent runs. `local`: this machine. `ray`: as tasks "
        "on a Ray cluster (`pip install 'stomper-lsp[ray]'`; see docs/cluster.md); every node "
        "needs a `stomper_slot` resource. User config, editor settings or CLI only.",
    )
    ray_address: str | None = Field(
        default=None,
        description="The Ray cluster for `executor = \"ray\"` (`host:6379`, `ray://host:10001`, "
        "`auto`). Default: Ray's own `RAY_ADDRESS`, else a Ray instance started on this machine "
        "for the run. User config, editor settings or CLI only.",
    )

    _split_agent = field_validator("agent_command", "test_command", mode="before")(
        lambda value: _split_command(value)
    )

    @field_validator("select", "extend_select", "ignore")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        """ruff would stop on a stray comma or lower-case code; say so before it runs."""
        bad = [code for code in value if not _CODE.fullmatch(code)]
        if bad:
            raise ValueError(
                f"not a rule code: {', '.join(map(repr, bad))}; use ruff codes or prefixes "
                "such as 'F401', 'UP', 'ALL', or mypy codes such as 'arg-type'"
            )
        return value

    @field_validator("target_version")
    @classmethod
    def _python_version(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET_VERSION.fullmatch(value):
            raise ValueError(f"{value!r} is not a ruff target version; write it as 'py311'")
        return value

    @field_validator("agent_command")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must name a program, for example ['my-agent', '{prompt_file}']")
        return value

    @field_validator("test_command")
    @classmethod
    def _empty_means_none(cls, value: list[str] | None) -> list[str] | None:
        """`test_command = ""` switches a test command set elsewhere off, not run `[]`."""
        return value or None
