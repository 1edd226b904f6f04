"""Which files a run looks at: Python files git does not ignore, filtered by config globs."""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from stomper_lsp.process import run_process

PYTHON_SUFFIXES = (".py", ".pyi")
_ALWAYS_SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", ".eggs", "site-packages",
    }
)


class PathOutsideProjectError(ValueError):
    pass


def _matches(path: str, patterns: Sequence[str]) -> bool:
    """Glob match where `*` may cross folders and a leading `**/` also matches the top level."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]):
            return True
        if pattern.endswith("/**") and path.startswith(pattern[:-3] + "/"):
            return True
    return False


async def _git_listing(root: Path) -> list[str] | None:
    """Tracked plus untracked-not-ignored files, or None when `root` is not in a git work tree."""
    try:
        proc = await run_process(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=root,
            timeout=60,
        )
    except OSError:
        return None
    if proc.returncode != 0 or proc.timed_out:
        return None
    names = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return sorted({n for n in names if n and (root / n).is_file()})


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED_DIRS)
        rel_dir = Path(dirpath).relative_to(root)
        found.extend((rel_dir / f).as_posix() for f in filenames)
    return sorted(found)


def to_relative(root: Path, path: str | Path) -> str:
    """Repo-relative POSIX form of `path` (absolute, or relative to the current directory)."""
    absolute = Path(path) if Path(path).is_absolute() else Path.cwd() / path
    try:
        rel = Path(os.path.normpath(absolute)).relative_to(os.path.normpath(root.resolve()))
    except ValueError:
        try:
            rel = Path(os.path.normpath(absolute.resolve())).relative_to(root.resolve())
        except ValueError:
            raise PathOutsideProjectError(
                f"{path} is outside the project {root}. Run Stomper from that file's project, "
                "or pass --project."
            ) from None
    return rel.as_posix() if str(rel) != "." else "."


async def discover_python_files(
    root: Path,
    *,
    paths: Iterable[str] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[str]:
    """Repo-relative POSIX paths of the Python files to check, sorted.

    `paths` (repo-relative) narrows the search to those files or folders; a file named
    explicitly is kept even when git ignores it.
    """
    root = root.resolve()
    wanted = [p for p in paths if p != "."]
    listing = await _git_listing(root)
    candidates = listing if listing is not None else await asyncio.to_thread(_walk, root)
    candidates = [
        c for c in candidates
        if not set(PurePosixPath(c).parts[:-1]) & _ALWAYS_SKIPPED_DIRS
    ]
    explicit_files = [p for p in wanted if (root / p).is_file()]
    if wanted:
        prefixes = [p.rstrip("/") + "/" for p in wanted if (root / p).is_dir()]
        candidates = [c for c in candidates if any(c.startswith(pre) for pre in prefixes)]
    selected = set(candidates) | set(explicit_files)
    result = []
    for rel in sorted(selected):
        if not rel.endswith(PYTHON_SUFFIXES):
            continue
        if include and rel not in explicit_files and not _matches(rel, include):
            continue
        if exclude and _matches(rel, exclude):
            continue
        result.append(rel)
    return result
