"""Running git for the sandbox layer: one place that decides env, config and failure text.

Every git command we run must neither run the repository's hooks nor start fsmonitor
daemons or auto-gc (a repository cannot make Stomper run arbitrary commands; sandboxes must
not leave processes behind), and must ignore GIT_DIR-style variables inherited from a hook
or an editor, which would silently point it at another repository or index.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from stomper_lsp.process import Dialogue, ProcessResult, run_process
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.shadow_guard import restore as restore_shadow
from stomper_lsp.sandbox.shadow_guard import shadow_of

GIT_TIMEOUT_S = 120.0

# `git rev-parse --local-env-vars` plus the variables that redirect pathspecs or config.
_INHERITED_VARS_TO_DROP = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT", "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS",
        "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE",
        "GIT_COMMON_DIR", "GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS",
        "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS",
    }
)
_SAFE_CONFIG = (
    "-c", "core.hooksPath=/dev/null",  # no hook can exist under /dev/null: none runs
    "-c", "core.fsmonitor=false",
    "-c", "core.splitIndex=false",  # a temporary index must not write shared index files
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "commit.gpgSign=false",
)
STOMPER_IDENTITY = {
    "GIT_AUTHOR_NAME": "Stomper",
    "GIT_AUTHOR_EMAIL": "stomper@localhost",
    "GIT_COMMITTER_NAME": "Stomper",
    "GIT_COMMITTER_EMAIL": "stomper@localhost",
}


# For commands on the shadow and its worktrees: only the shadow's own config counts (kept
# Stomper's by shadow_guard.py; it mirrors the user's checkout settings), never a global or
# system file an agent could have written (an unconfined agent can write ~/.gitconfig).
_ISOLATED = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for our git commands: the user's, minus repository redirections."""
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_VARS_TO_DROP}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"  # read-only commands must not rewrite the user's index
    env["GIT_LFS_SKIP_SMUDGE"] = "1"  # sandboxes never download large files
    if extra:
        env.update(extra)
    return env


async def run_git(
    cwd: Path,
    args: Sequence[str],
    *,
    stdin_data: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT_S,
    check: bool = True,
    git_dir: Path | None = None,
) -> ProcessResult:
    """Run `git <args>` in `cwd`; with `check`, any failure becomes a SandboxError.

    `git_dir`, when the command addresses one of Stomper's shadows or their worktrees,
    makes it run on the shadow's recorded settings only (see shadow_guard.py).
    """
    argv = ["git", *_SAFE_CONFIG, *args]
    environment = git_env(env)
    shadow = shadow_of(git_dir) if git_dir is not None else None
    if shadow is not None:
        await asyncio.to_thread(restore_shadow, shadow)
        environment.update(_ISOLATED)
    try:
        result = await run_process(
            argv, cwd=cwd, timeout=timeout, stdin_data=stdin_data, env=environment
        )
    except FileNotFoundError as exc:
        if not cwd.is_dir():
            raise SandboxError(f"The folder {cwd} does not exist (any more).") from exc
        raise SandboxError(
            "git was not found on PATH. Stomper fixes files in git worktrees: install git, "
            "or use `stomper check` to only list issues."
        ) from exc
    except OSError as exc:
        raise SandboxError(f"git could not start in {cwd}: {exc}") from exc
    if check and (result.timed_out or result.returncode != 0):
        raise SandboxError(describe_failure(result, cwd))
    return result


async def start_git_dialogue(git_dir: Path, args: Sequence[str]) -> Dialogue:
    """A long-running `git --git-dir <git_dir> <args>` (e.g. `cat-file --batch`), with the
    same environment and shadow rules as `run_git`."""
    environment = git_env()
    shadow = shadow_of(git_dir)
    if shadow is not None:
        await asyncio.to_thread(restore_shadow, shadow)
        environment.update(_ISOLATED)
    argv = ["git", *_SAFE_CONFIG, "--git-dir", str(git_dir), *args]
    try:
        return await Dialogue.start(argv, cwd=git_dir, env=environment)
    except OSError as exc:
        raise SandboxError(f"git could not start in {git_dir}: {exc}") from exc


async def run_git_dir(
    git_dir: Path,
    args: Sequence[str],
    *,
    stdin_data: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = GIT_TIMEOUT_S,
    check: bool = True,
) -> ProcessResult:
    """`git --git-dir=<git_dir> <args>`: addressed explicitly, never found by discovery, so
    the command reaches exactly that repository (a bare shadow or a user's common dir)."""
    return await run_git(
        git_dir,
        ["--git-dir", str(git_dir), *args],
        stdin_data=stdin_data,
        env=env,
        timeout=timeout,
        check=check,
        git_dir=git_dir,
    )


def describe_failure(result: ProcessResult, cwd: Path) -> str:
    command = " ".join(["git", *result.argv[1 + len(_SAFE_CONFIG) :]])
    if result.timed_out:
        return f"`{command}` timed out after {result.duration_s:.0f} s in {cwd}."
    stderr = result.stderr_text.strip()[-2000:]
    return f"`{command}` failed in {cwd} (exit {result.returncode}): {stderr}"


def split_nul(output: bytes) -> list[str]:
    """NUL-separated git output as str paths (undecodable bytes kept as surrogates)."""
    return [os.fsdecode(item) for item in output.split(b"\0") if item]
