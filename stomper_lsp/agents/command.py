"""Any agent CLI, run as an argv template: no shell, stdin closed, hard timeout, bounded log.

The presets (claude, codex, ...) and the user's own `agent_command` are both this class;
only the argv differs.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from stomper_lsp.agents.attempt import run_attempt
from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.agents.prompt import prompt_file_name, write_prompt_file

DEFAULT_AGENT_OUTPUT_LIMIT = 1024 * 1024
PLACEHOLDERS = ("{prompt_file}", "{prompt_dir}", "{file}", "{workdir}")

# Variables that point git at another repository. Stomper may itself run from a git hook
# where they are set; inherited, they would make the agent's git commands act on the
# user's repository instead of the sandbox (design invariant 1).
_GIT_REDIRECTS = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
})


def render_argv(
    template: Sequence[str], *, prompt_file: Path, file: str, workdir: Path
) -> list[str]:
    """Substitute the placeholders inside each element; other braces (JSON...) stay as is."""
    values = {
        "{prompt_file}": str(prompt_file), "{prompt_dir}": str(prompt_file.parent),
        "{file}": file, "{workdir}": str(workdir),
    }
    rendered: list[str] = []
    for element in template:
        for placeholder, value in values.items():
            element = element.replace(placeholder, value)
        rendered.append(element)
    return rendered


def agent_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment an agent runs with: ours, minus what would redirect its git."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if k not in _GIT_REDIRECTS}


class CommandAgent:
    """Runs `argv_template` in the sandbox; logs at most about `output_limit` bytes of output."""

    def __init__(
        self,
        name: str,
        argv_template: Sequence[str],
        *,
        output_limit: int = DEFAULT_AGENT_OUTPUT_LIMIT,
        state_dirs: Sequence[Path] = (),
        environment: Mapping[str, str] | None = None,
        when_confined: Mapping[str, str] | None = None,
    ) -> None:
        if not argv_template:
            raise ValueError("an agent command needs at least a program")
        self.name = name
        self.argv_template = tuple(argv_template)
        self.output_limit = output_limit
        self.state_dirs = tuple(state_dirs)
        """Folders its CLI writes besides the sandbox (confinement lets it)."""
        self.environment = dict(environment or {})
        """Variables set for it on top of Stomper's own environment."""
        self.when_confined = dict(when_confined or {})
        """Arguments replaced when the kernel confinement holds it (its own sandbox off)."""

    async def fix(self, task: AgentTask) -> AgentResult:
        if task.prompt_dir is not None:
            return await self._run(task)
        with tempfile.TemporaryDirectory(prefix="stomper-prompt-") as folder:
            return await self._run(dataclasses.replace(task, prompt_dir=Path(folder)))

    async def _run(self, task: AgentTask) -> AgentResult:
        workdir = task.workdir.resolve()
        template = self.argv_template
        if task.confinement is not None and self.when_confined:
            template = tuple(self.when_confined.get(arg, arg) for arg in template)
        if any(p in arg for arg in template for p in ("{prompt_file}", "{prompt_dir}")):
            prompt_file = write_prompt_file(task)
        else:  # a command that never names the prompt cannot read it: do not write it
            folder = task.prompt_dir or Path(tempfile.gettempdir())
            prompt_file = folder / prompt_file_name(task.target, task.attempt)
        argv = render_argv(template, prompt_file=prompt_file, file=task.target, workdir=workdir)
        return await run_attempt(
            self.name,
            task,
            argv,
            output_limit=max(self.output_limit // 2, 1),
            env={**agent_environment(), **self.environment},
        )
