"""Real git repositories in tmp_path, with awkward names, for the sandbox tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stomper_lsp.sandbox.layout import SANDBOX_DIR_ENV, shadow_dir_for

AUTHOR = ["-c", "user.name=Test User", "-c", "user.email=test@example.com"]


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No git identity anywhere (Stomper must not need user.name), no repository above
    tmp_path, and sandboxes in a tmp folder with an awkward name."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv(SANDBOX_DIR_ENV, str(tmp_path / "sand boxes ü"))
    for name in (
        "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *AUTHOR, *args],
        cwd=cwd,
        capture_output=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout.decode("utf-8", errors="surrogateescape")


@dataclass
class Repo:
    root: Path

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def look(self, *args: str) -> str:
        """A read-only git command that must not refresh the index while we watch it."""
        return git(self.root, *args, env={"GIT_OPTIONAL_LOCKS": "0"})

    def write(self, path: str, text: str) -> Path:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        return full

    def commit(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def worktrees(self) -> list[str]:
        listing = self.look("worktree", "list", "--porcelain", "-z")
        entries = listing.split("\0")
        return [e.removeprefix("worktree ") for e in entries if e.startswith("worktree ")]

    def git_dir_files(self) -> dict[str, str]:
        """Hash of every file under `.git`: objects, refs, index, config, logs, worktrees."""
        git_dir = self.root / ".git"
        return {
            path.relative_to(git_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(git_dir.rglob("*"))
            if path.is_file()
        }

    def shadow(self, base: Path) -> Path:
        """Where Stomper keeps this repository's shadow repository."""
        return shadow_dir_for(base.resolve(), self.root.resolve())

    def state(self) -> dict[str, object]:
        """Everything of the user's that Stomper must leave byte-identical."""
        files: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            if ".git" in path.relative_to(self.root).parts or not path.is_file():
                continue
            files[path.relative_to(self.root).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
        git_dir = self.root / ".git"
        index = git_dir / "index"
        return {
            "HEAD file": (git_dir / "HEAD").read_bytes(),
            "HEAD": subprocess.run(
                ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=self.root,
                capture_output=True,
            ).stdout,
            "index": index.read_bytes() if index.exists() else None,
            "status": self.look("status", "--porcelain", "-z", "--untracked-files=all"),
            "refs": self.look("for-each-ref"),
            "stash": self.look("stash", "list"),
            "worktrees": self.worktrees(),
            "files": files,
            "git dir files": self.git_dir_files(),
        }


RepoFactory = Callable[..., Repo]


@pytest.fixture
def new_repo(tmp_path: Path) -> Iterator[RepoFactory]:
    def factory(
        files: dict[str, str] | None = None,
        *,
        name: str = "my repo ü",
        commit: bool = True,
    ) -> Repo:
        root = tmp_path / name
        root.mkdir(parents=True)
        git(root, "init", "-q", "-b", "main")
        repo = Repo(root)
        for path, text in (files or {}).items():
            repo.write(path, text)
        if commit and files:
            repo.commit("initial")
        return repo

    yield factory


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "sand boxes ü"


def shadow_git(shadow: Path, *args: str) -> str:
    return git(shadow, "--git-dir", str(shadow), *args)


def shadow_worktrees(shadow: Path) -> list[str]:
    """The shadow's linked worktrees (its first entry, the bare repository, left out)."""
    listing = shadow_git(shadow, "worktree", "list", "--porcelain", "-z").split("\0")
    return [e.removeprefix("worktree ") for e in listing if e.startswith("worktree ")][1:]


def stomper_refs(shadow: Path) -> list[str]:
    return shadow_git(shadow, "for-each-ref", "--format=%(refname)", "refs/stomper/").split()
