"""`stomper fix --commit`: one conventional commit per fixed file, with only Stomper's change.

The commit is built on a temporary index (HEAD's tree plus the fixed files), so the user's
staged work never rides along. A file with uncommitted changes of the user's is refused:
its commit could not hold "only Stomper's change".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stomper_lsp.delivery.swap import replace_if_unchanged
from stomper_lsp.delivery.working_tree import read_text
from stomper_lsp.process import run_process
from stomper_lsp.symlinks import link_refusal
from stomper_lsp.workflow.report import FileChange, FileOutcome, FileStatus

_GIT_TIMEOUT_S = 60.0


class GitCommandError(Exception):
    pass


async def _git(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> str:
    full_env = {**os.environ, **(env or {})}
    result = await run_process(
        ["git", *args], cwd=repo, timeout=_GIT_TIMEOUT_S, env=full_env, stdin_data=stdin
    )
    if result.returncode != 0 or result.timed_out:
        raise GitCommandError(f"git {' '.join(args)}: {result.stderr_text.strip()}")
    return result.stdout_text.strip()


@dataclass
class CommitReport:
    commits: list[tuple[str, str, list[str]]] = field(default_factory=list)
    """(sha, message, repo-relative paths) per commit made."""
    refused: dict[str, str] = field(default_factory=dict)
    """Project-relative path of a fixed file -> why it was not committed."""
    not_written: dict[str, str] = field(default_factory=dict)
    """Committed, but the working-tree file was saved meanwhile and kept: path -> why."""


async def _refusal_for_repo(repo: Path) -> str | None:
    try:
        await _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    except GitCommandError:
        return "the repository has no commit yet; make a first commit, or run without --commit"
    git_dir = Path(await _git(repo, "rev-parse", "--absolute-git-dir"))
    for marker in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "rebase-merge", "rebase-apply"):
        if (git_dir / marker).exists():
            return f"a merge or rebase is in progress ({marker}); finish it first"
    return None


async def _user_has_changes(repo: Path, repo_path: str) -> bool:
    # --no-optional-locks: a plain `git status` may rewrite the index to refresh stat data.
    status = await _git(repo, "--no-optional-locks", "status", "--porcelain", "-z", "--", repo_path)
    return bool(status)


def _message(outcome: FileOutcome) -> str:
    fixed = outcome.issues_before - outcome.issues_after
    noun = "issue" if fixed == 1 else "issues"
    return (
        f"fix(lint): resolve {fixed} ruff/mypy {noun} in {outcome.path}\n\n"
        f"Made by `stomper fix --commit`: {outcome.message}."
    )


async def commit_fixes(
    project_root: Path,
    outcomes: Sequence[FileOutcome],
    changes: Sequence[FileChange],
) -> CommitReport:
    """Commit each fixed file's changes on the current branch and update the work tree."""
    report = CommitReport()
    fixed = [o for o in outcomes if o.status in (FileStatus.FIXED, FileStatus.PARTIAL)]
    if not fixed:
        return report
    repo = Path(await _git(project_root, "rev-parse", "--show-toplevel"))
    prefix = Path(os.path.relpath(project_root.resolve(), repo.resolve())).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    refusal = await _refusal_for_repo(repo)
    if refusal:
        report.refused = {o.path: refusal for o in fixed}
        return report
    by_path = {c.path: c for c in changes}
    committed: set[str] = set()
    for outcome in fixed:
        paths = [p for p in outcome.changed_paths if p in by_path and p not in committed]
        if not paths:
            continue
        reason = await _check_committable(repo, project_root, prefix, paths, by_path)
        if reason:
            report.refused[outcome.path] = reason
            continue
        sha = await _commit(repo, prefix, paths, by_path, _message(outcome))
        for path in paths:
            change = by_path[path]
            written = replace_if_unchanged(
                project_root / path,
                (change.new_text or "").encode("utf-8", errors="surrogateescape"),
                expected=(change.base_text or "").encode("utf-8", errors="surrogateescape"),
            )
            if not written:
                report.not_written[path] = (
                    "you saved it while Stomper wrote it; your version was kept, the commit "
                    "holds the fix"
                )
        committed.update(paths)
        report.commits.append((sha, _message(outcome).splitlines()[0], [prefix + p for p in paths]))
    return report


async def _check_committable(
    repo: Path, root: Path, prefix: str, paths: Sequence[str], by_path: Mapping[str, FileChange]
) -> str | None:
    for path in paths:
        refusal = link_refusal(root, path)
        if refusal is not None:
            return refusal
        if await _user_has_changes(repo, prefix + path):
            return (
                f"{path} has uncommitted changes of yours; commit or stash them first, "
                "or run without --commit"
            )
        if read_text(root / path) != by_path[path].base_text:
            return f"{path} changed during the run"
    return None


async def _commit(
    repo: Path, prefix: str, paths: Sequence[str], by_path: Mapping[str, FileChange], message: str
) -> str:
    head = await _git(repo, "rev-parse", "HEAD")
    with tempfile.TemporaryDirectory(prefix="stomper-commit-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        await _git(repo, "read-tree", head, env=env)
        entries: list[tuple[str, str, str]] = []
        for path in paths:
            text = by_path[path].new_text or ""
            blob = await _git(repo, "hash-object", "-w", "--stdin", stdin=text.encode("utf-8"))
            listing = await _git(repo, "ls-files", "-s", "--", prefix + path, env=env)
            mode = listing.split()[0] if listing else "100644"
            entries.append((mode, blob, prefix + path))
            await _git(
                repo, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{prefix + path}",
                env=env,
            )
        tree = await _git(repo, "write-tree", env=env)
    sha = await _git(repo, "commit-tree", tree, "-p", head, "-m", message)
    await _git(repo, "update-ref", "-m", "stomper fix --commit", "HEAD", sha, head)
    # The user's index entry for these paths follows the commit (they had no staged change
    # there, or we would have refused); every other entry of their index stays as it was.
    for mode, blob, repo_path in entries:
        await _git(repo, "update-index", "--cacheinfo", f"{mode},{blob},{repo_path}")
    return sha
