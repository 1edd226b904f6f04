"""Freeze what the user sees (working tree plus unsaved buffers) into one commit object.

The snapshot is built in a temporary copy of the user's index, so their HEAD, index,
branches, refs, stash and files are never touched, and every object it creates goes into
Stomper's shadow repository (see shadow.py), so the user's `.git` stays byte-for-byte the
same. The copy keeps git's stat cache, which is what makes `git add -A` fast on a big
repository; the shadow's alternates make the user's objects readable without copying.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stomper_lsp.process import ProcessResult
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import (
    STOMPER_IDENTITY,
    describe_failure,
    run_git,
    run_git_dir,
    split_nul,
)
from stomper_lsp.sandbox.repository import RepositoryLocation, locate_repository
from stomper_lsp.sandbox.shadow import objects_env, open_shadow

__all__ = [
    "UNTRACKED_NOISE_DIRS",
    "RepositoryLocation",
    "SandboxError",
    "Snapshot",
    "create_snapshot",
    "decode_text",
    "locate_repository",
    "read_snapshot_files",
    "to_repo_path",
]

# Untracked folders that are never source but can hold hundreds of MB when a project forgot
# to ignore them: hashing them into every snapshot would make each run crawl.
UNTRACKED_NOISE_DIRS = (
    ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".tox", ".nox",
)
_ADD_TIMEOUT_S = 600.0
_SETTLE_ATTEMPTS = 5
_SETTLE_PAUSE_S = 0.05
_CONFIRM_S = 0.03
_OVERLAY_HASHERS = 4
_REGULAR_MODES = frozenset({"100644", "100755"})


@dataclass(frozen=True)
class Snapshot:
    repo_root: Path
    """git top level, resolved."""
    git_common_dir: Path
    """The user's common .git dir (read only: Stomper writes nothing there)."""
    project_prefix: str
    """Project root relative to repo_root, POSIX, "" when they are equal."""
    commit: str
    """The snapshot commit; it exists in the shadow repository only."""
    shadow_dir: Path
    """Stomper's shadow repository for repo_root: it holds the commit, the sandboxes'
    worktree metadata, and is the key every worktree operation is serialized on."""


def decode_text(data: bytes) -> str:
    """File bytes as text; undecodable bytes survive as surrogates, so encoding round-trips."""
    return data.decode("utf-8", errors="surrogateescape")


def to_repo_path(project_prefix: str, path: str) -> str:
    """Repo-relative form of a project-relative POSIX path; refuses escapes and `.git`."""
    pure = PurePosixPath(path)
    parts = [p for p in pure.parts if p != "."]
    if pure.is_absolute() or not parts or ".." in parts or ".git" in parts:
        raise SandboxError(
            f"{path!r} is not a file path inside the project (expected a project-relative "
            "POSIX path outside .git)."
        )
    return "/".join([project_prefix, *parts]) if project_prefix else "/".join(parts)


async def _head_commit(repo_root: Path) -> str | None:
    """HEAD's commit, or None in a repository without commits (the snapshot has no parent)."""
    result = await run_git(
        repo_root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False
    )
    if result.returncode != 0:
        return None
    return result.stdout_text.strip() or None


async def _head_and_shadow(
    location: RepositoryLocation, base_dir: Path | None
) -> tuple[str | None, Path]:
    """Both at once. Should opening the shadow fail, the HEAD lookup is cancelled and
    awaited, not left running (a git process orphaned at loop shutdown hangs it)."""
    head = asyncio.ensure_future(_head_commit(location.repo_root))
    try:
        shadow = await open_shadow(location, base_dir)
    except BaseException:
        head.cancel()
        await asyncio.wait([head])
        raise
    return await head, shadow


async def _stage_working_tree(repo_root: Path, env: Mapping[str, str]) -> None:
    """`git add -A` until what was staged is what is on disk, and stays so for a moment.

    git reads each file once; a file an editor is saving at that moment can be staged half
    written (an empty or cut-off text whose issues then silently vanish from the run). git
    stats before it reads, so such a file differs from its index entry afterwards: stage
    again until nothing does. A save paused between two writes can look settled, so the
    clean state must hold over a short pause too. Files that never settle are named.
    """
    noise = [f":(exclude,glob)**/{name}/**" for name in UNTRACKED_NOISE_DIRS]
    unsettled: list[str] = ["."]
    for attempt in range(_SETTLE_ATTEMPTS):
        added = await run_git(
            repo_root,
            ["add", "-A", "--", ".", *noise] if unsettled == ["."]
            else ["--literal-pathspecs", "add", "-A", "--", *unsettled],
            env=env,
            timeout=_ADD_TIMEOUT_S,
            check=False,
        )
        if _cut_short(added):
            _drop_stale_lock(env)
            unsettled = ["."]
        elif added.returncode != 0 or added.timed_out:
            raise SandboxError(describe_failure(added, repo_root))
        else:
            unsettled = await _unsettled(repo_root, env, noise)
            if not unsettled:
                await asyncio.sleep(_CONFIRM_S)
                unsettled = await _unsettled(repo_root, env, noise)
                if not unsettled:
                    return
        await asyncio.sleep(_SETTLE_PAUSE_S * (attempt + 1))
    listed = (
        ", ".join(unsettled[:10]) if unsettled != ["."]
        else "one was cut short while git read it (an editor or tool was saving)"
    )
    raise SandboxError(
        f"Files kept changing while Stomper read them for the snapshot: {listed}. "
        "Wait until they are saved (or whatever writes them has finished) and run again."
    )


def _cut_short(result: ProcessResult) -> bool:
    """A file changed while git read it: git maps files, so one truncated under it by a save
    kills it (SIGBUS); one rewritten while git hashed it twice fails `git add` with
    "unstable object source data"."""
    if result.timed_out:
        return False
    return result.returncode == -signal.SIGBUS or (
        result.returncode != 0 and b"unstable object source data" in result.stderr
    )


def _drop_stale_lock(env: Mapping[str, str]) -> None:
    """A killed git leaves its lock on the scratch index behind."""
    Path(f"{env['GIT_INDEX_FILE']}.lock").unlink(missing_ok=True)


async def _unsettled(repo_root: Path, env: Mapping[str, str], noise: list[str]) -> list[str]:
    """Files whose disk state no longer matches what was staged (["."]: unknown)."""
    changed = await run_git(
        repo_root,
        ["diff-files", "--name-only", "-z", "--ignore-submodules", "--", ".", *noise],
        env=env,
        check=False,
    )
    if _cut_short(changed):
        return ["."]
    if changed.returncode != 0 or changed.timed_out:
        raise SandboxError(describe_failure(changed, repo_root))
    return split_nul(changed.stdout)


async def _stage_overlays(
    repo_root: Path, env: Mapping[str, str], overlays: Mapping[str, str]
) -> None:
    """Unsaved buffers replace the disk text; the file keeps its mode (new files: 100644)."""
    listing = await run_git(
        repo_root,
        ["--literal-pathspecs", "ls-files", "--stage", "-z", "--", *overlays],
        env=env,
    )
    modes: dict[str, str] = {}
    for entry in split_nul(listing.stdout):
        meta, _, path = entry.partition("\t")
        mode = meta.split(" ", 1)[0]
        # A buffer is file text: a symlink or submodule overlaid with text becomes a file.
        modes[path] = mode if mode in _REGULAR_MODES else "100644"
    gate = asyncio.Semaphore(_OVERLAY_HASHERS)

    async def write_blob(path: str, text: str) -> str:
        async with gate:
            result = await run_git(
                repo_root,
                ["hash-object", "-w", "--stdin", f"--path={path}"],
                stdin_data=text.encode("utf-8", errors="surrogateescape"),
                env=env,
            )
        return result.stdout_text.strip()

    paths = list(overlays)
    blobs = await asyncio.gather(*(write_blob(p, overlays[p]) for p in paths))
    info = b"".join(
        f"{modes.get(path, '100644')} {blob}\t{path}".encode("utf-8", errors="surrogateescape")
        + b"\0"
        for path, blob in zip(paths, blobs, strict=True)
    )
    await run_git(
        repo_root, ["update-index", "--add", "-z", "--index-info"], stdin_data=info, env=env
    )


async def create_snapshot(
    project_root: Path,
    overlays: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
    location: RepositoryLocation | None = None,
) -> Snapshot:
    """One commit holding tracked changes, untracked-not-ignored files and `overlays`.

    `overlays` maps project-relative POSIX paths to unsaved editor text. HEAD is the parent
    when it exists; a repository without commits works too. The commit and its new objects
    live in the shadow repository under `base_dir` (default: the sandbox folder).
    `location` is `project_root`'s repository, when the caller has looked it up already.
    """
    location = location or await locate_repository(Path(project_root).resolve())
    repo_root = location.repo_root
    staged_overlays = {
        to_repo_path(location.project_prefix, path): text
        for path, text in (overlays or {}).items()
    }
    head, shadow = await _head_and_shadow(location, base_dir)
    writes_to_shadow = objects_env(shadow)
    with tempfile.TemporaryDirectory(prefix="stomper-snapshot-") as tmp:
        index = Path(tmp) / "index"
        if location.index_file.is_file():
            # copy2 keeps the mtime: git content-checks entries no older than the index
            # file ("racily clean"); a fresh mtime would hide a same-size edit made in the
            # same timestamp tick as the last index write.
            await asyncio.to_thread(shutil.copy2, location.index_file, index)
        env = {**writes_to_shadow, "GIT_INDEX_FILE": str(index)}
        await _stage_working_tree(repo_root, env)
        if staged_overlays:
            await _stage_overlays(repo_root, env, staged_overlays)
        tree = (await run_git(repo_root, ["write-tree"], env=env)).stdout_text.strip()
    parents = ["-p", head] if head else []
    message = f"Stomper snapshot of {repo_root}"
    committed = await run_git(
        repo_root,
        ["commit-tree", "--no-gpg-sign", *parents, "-m", message, tree],
        env={**writes_to_shadow, **STOMPER_IDENTITY},
    )
    return Snapshot(
        repo_root=repo_root,
        git_common_dir=location.git_common_dir,
        project_prefix=location.project_prefix,
        commit=committed.stdout_text.strip(),
        shadow_dir=shadow,
    )


async def read_snapshot_files(
    snapshot: Snapshot, paths: Sequence[str]
) -> dict[str, str | None]:
    """Text of project-relative `paths` in the snapshot; None when absent or not a file.

    The text is what a checkout writes (eol and filter attributes applied), so it compares
    equal to the sandbox's file and to the user's file. A fixed number of git processes
    whatever the number of paths: `cat-file --batch --filters` cannot be used because git
    2.39 announces the unfiltered size and so its output cannot be split.
    """
    wanted = {path: to_repo_path(snapshot.project_prefix, path) for path in paths}
    texts: dict[str, str | None] = dict.fromkeys(wanted)
    if not wanted:
        return texts
    shadow = snapshot.shadow_dir
    requested = set(wanted.values())
    # ls-tree reads only the trees on the way to the paths, so the scratch index holds the
    # wanted entries alone (plus the .gitattributes that decide their eol and filters): the
    # cost follows the paths asked for, not the size of the repository.
    attributes = {
        "/".join([*PurePosixPath(path).parts[:depth], ".gitattributes"])
        for path in requested
        for depth in range(len(PurePosixPath(path).parts))
    }
    listing = await run_git_dir(
        shadow,
        ["--literal-pathspecs", "ls-tree", "-z", snapshot.commit, "--",
         *sorted(requested | attributes)],
    )
    entries: list[bytes] = []
    present: set[str] = set()
    for entry in listing.stdout.split(b"\0"):
        meta, _, raw_path = entry.partition(b"\t")
        repo_path = os.fsdecode(raw_path)
        if meta.split(b" ", 1)[0].decode() not in _REGULAR_MODES:
            continue
        if repo_path in requested:
            present.add(repo_path)
        if repo_path in requested or repo_path in attributes:
            entries.append(entry + b"\0")
    if not present:
        return texts
    with tempfile.TemporaryDirectory(prefix="stomper-snapshot-read-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        # The shadow is bare: a scratch work tree lets checkout-index run at all.
        worktree = ["--work-tree", tmp]
        await run_git_dir(
            shadow, [*worktree, "update-index", "-z", "--index-info"],
            stdin_data=b"".join(entries), env=env,
        )
        out = Path(tmp) / "files"
        stdin = b"".join(p.encode("utf-8", errors="surrogateescape") + b"\0" for p in present)
        await run_git_dir(
            shadow,
            [*worktree, "checkout-index", f"--prefix={out}/", "-z", "--stdin"],
            stdin_data=stdin,
            env=env,
        )
        for path, repo_path in wanted.items():
            if repo_path in present:
                texts[path] = decode_text((out / repo_path).read_bytes())
    return texts
