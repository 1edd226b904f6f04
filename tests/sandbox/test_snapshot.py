from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.process import ProcessResult
from stomper_lsp.sandbox import git as sandbox_git
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.snapshot import (
    SandboxError,
    Snapshot,
    create_snapshot,
    read_snapshot_files,
)
from tests.sandbox.conftest import RepoFactory, shadow_git


def tree_of(snapshot: Snapshot) -> dict[str, str]:
    """path -> mode of every entry in the snapshot commit (which lives in the shadow)."""
    listing = shadow_git(snapshot.shadow_dir, "ls-tree", "-r", "-z", snapshot.commit)
    entries = {}
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        entries[path] = meta.split()[0]
    return entries


def blob(snapshot: Snapshot, path: str) -> str:
    return shadow_git(snapshot.shadow_dir, "cat-file", "blob", f"{snapshot.commit}:{path}")


async def test_snapshot_holds_staged_unstaged_untracked_and_overlays_but_not_ignored(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo(
        {
            ".gitignore": "*.log\nbuild/\n",
            "staged.py": "a = 1\n",
            "unstaged.py": "b = 1\n",
            "gone.py": "c = 1\n",
            "buffer ü.py": "d = 1\n",
        }
    )
    head = repo.git("rev-parse", "HEAD").strip()
    repo.write("staged.py", "a = 2  # staged\n")
    repo.git("add", "staged.py")
    repo.write("staged.py", "a = 3  # staged, then edited again\n")
    repo.write("unstaged.py", "b = 2  # unstaged\n")
    (repo.root / "gone.py").unlink()
    repo.write("new dir/untracked ü.py", "e = 1\n")
    repo.write("debug.log", "ignored\n")
    repo.write("build/out.py", "ignored too\n")
    repo.write(".venv/lib/site.py", "an unignored virtualenv is noise, not source\n")

    snapshot = await create_snapshot(repo.root, {"buffer ü.py": "d = 2  # unsaved\n"})

    tree = tree_of(snapshot)
    assert sorted(tree) == [".gitignore", "buffer ü.py", "new dir/untracked ü.py",
                            "staged.py", "unstaged.py"]
    assert blob(snapshot, "staged.py") == "a = 3  # staged, then edited again\n"
    assert blob(snapshot, "unstaged.py") == "b = 2  # unstaged\n"
    assert blob(snapshot, "buffer ü.py") == "d = 2  # unsaved\n"
    assert blob(snapshot, "new dir/untracked ü.py") == "e = 1\n"
    shadow = snapshot.shadow_dir
    parents = shadow_git(shadow, "rev-list", "--parents", "-n", "1", snapshot.commit).split()
    assert parents == [snapshot.commit, head]
    assert shadow_git(shadow, "log", "-1", "--format=%an <%ae>", snapshot.commit).strip() == (
        "Stomper <stomper@localhost>"
    )
    assert snapshot.repo_root == repo.root.resolve()
    assert snapshot.git_common_dir == (repo.root / ".git").resolve()
    assert snapshot.project_prefix == ""


async def test_snapshot_leaves_the_users_repository_byte_identical(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"a.py": "a = 1\n", "b.py": "b = 1\n", ".gitignore": "*.log\n"})
    repo.git("branch", "feature")
    repo.write("a.py", "a = 2\n")
    repo.git("stash", "push", "-q")  # a stash the user has
    repo.write("a.py", "a = 3\n")
    repo.git("add", "a.py")
    repo.write("b.py", "b = 2\n")
    repo.write("new.py", "n = 1\n")
    repo.write("x.log", "ignored\n")
    before = repo.state()
    temp_before = set(os.listdir(tempfile.gettempdir()))

    snapshot = await create_snapshot(repo.root, {"b.py": "b = 3\n", "c.py": "c = 1\n"})
    await read_snapshot_files(snapshot, ["a.py", "b.py", "c.py"])

    assert repo.state() == before
    leftovers = set(os.listdir(tempfile.gettempdir())) - temp_before
    assert not [name for name in leftovers if name.startswith("stomper-snapshot")]


async def test_snapshot_of_a_repository_without_commits_has_no_parent(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"first.py": "x = 1\n"}, commit=False)
    before = repo.state()

    snapshot = await create_snapshot(repo.root, {"second.py": "y = 1\n"})

    assert shadow_git(
        snapshot.shadow_dir, "rev-list", "--parents", "-n", "1", snapshot.commit
    ).split() == [snapshot.commit]
    assert sorted(tree_of(snapshot)) == ["first.py", "second.py"]
    assert repo.state() == before


async def test_a_folder_outside_git_is_refused_with_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "plain folder"
    folder.mkdir()

    with pytest.raises(SandboxError) as caught:
        await create_snapshot(folder)

    message = str(caught.value)
    assert str(folder) in message
    assert "git init" in message
    assert "stomper check" in message


async def test_project_in_a_subfolder_uses_project_relative_paths(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"top.py": "t = 1\n", "libs/pkg ü/mod.py": "m = 1\n"})
    project = repo.root / "libs" / "pkg ü"

    snapshot = await create_snapshot(project, {"mod.py": "m = 2\n", "sub/new.py": "n = 1\n"})

    assert snapshot.project_prefix == "libs/pkg ü"
    assert snapshot.repo_root == repo.root.resolve()
    texts = await read_snapshot_files(snapshot, ["mod.py", "sub/new.py", "top.py"])
    assert texts == {"mod.py": "m = 2\n", "sub/new.py": "n = 1\n", "top.py": None}
    assert "top.py" in tree_of(snapshot)  # the whole repository is kept


async def test_overlays_keep_the_file_mode_and_cannot_escape(new_repo: RepoFactory) -> None:
    repo = new_repo({"tool.py": "#!/usr/bin/env python\n"})
    (repo.root / "tool.py").chmod(0o755)
    repo.commit("executable")

    snapshot = await create_snapshot(repo.root, {"tool.py": "#!/usr/bin/env python\nx=1\n"})

    assert tree_of(snapshot)["tool.py"] == "100755"
    for bad in ("../outside.py", "/etc/passwd", ".git/config", ""):
        with pytest.raises(SandboxError):
            await create_snapshot(repo.root, {bad: "x"})


async def test_read_snapshot_files_gives_checkout_text_with_a_fixed_number_of_processes(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"pkg/mod {i} ü.py": f"value = {i}\n" for i in range(30)}
    repo = new_repo({**files, ".gitattributes": "crlf/*.py text eol=crlf\n",
                      "crlf/win.py": "a = 1\nb = 2\n", "bin.dat": "\udcff"})
    snapshot = await create_snapshot(repo.root)
    calls: list[tuple[str, ...]] = []
    real = sandbox_git.run_process

    async def counting(argv: Sequence[str], **kwargs: Any) -> ProcessResult:
        calls.append(tuple(argv))
        return await real(argv, **kwargs)

    monkeypatch.setattr(sandbox_git, "run_process", counting)

    one = await read_snapshot_files(snapshot, ["pkg/mod 0 ü.py"])
    processes_for_one = len(calls)
    calls.clear()
    everything = await read_snapshot_files(
        snapshot, [*files, "crlf/win.py", "missing.py", "pkg", "bin.dat"]
    )

    assert one == {"pkg/mod 0 ü.py": "value = 0\n"}
    assert len(calls) == processes_for_one <= 3
    assert all(everything[path] == text for path, text in files.items())
    assert everything["crlf/win.py"] == "a = 1\r\nb = 2\r\n"  # as a checkout writes it
    assert everything["missing.py"] is None
    assert everything["pkg"] is None  # a folder is not a file
    assert everything["bin.dat"] == "\udcff"  # undecodable bytes survive as surrogates


async def test_git_hooks_of_the_repository_never_run(new_repo: RepoFactory) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    marker = repo.root.parent / "hook ran"
    for hook in ("post-checkout", "pre-commit", "post-commit", "post-index-change",
                 "reference-transaction"):
        script = repo.root / ".git" / "hooks" / hook
        script.write_text(f"#!/bin/sh\necho {hook} >> '{marker}'\n")
        script.chmod(0o755)

    snapshot = await create_snapshot(repo.root, {"a.py": "a = 2\n"})
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        (sandbox.project_dir / "a.py").write_text("a = 3\n")
        await sandbox.changes()

    assert not marker.exists()


async def test_a_project_in_the_users_own_linked_worktree(new_repo: RepoFactory) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    linked = repo.root.parent / "linked wt ü"
    repo.git("worktree", "add", "-q", "-b", "topic", str(linked))
    (linked / "a.py").write_text("a = 2  # edited in the linked worktree\n")
    (linked / "b.py").write_text("b = 1\n")
    repo.write("a.py", "a = 3  # the main worktree differs\n")
    before = repo.state()

    snapshot = await create_snapshot(linked)
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        assert (sandbox.project_dir / "a.py").read_text() == (
            "a = 2  # edited in the linked worktree\n"
        )
        assert (sandbox.project_dir / "b.py").read_text() == "b = 1\n"

    assert snapshot.repo_root == linked.resolve()
    assert snapshot.git_common_dir == (repo.root / ".git").resolve()
    assert repo.state() == before  # still two worktrees: the user's own
    assert len(repo.worktrees()) == 2


async def test_read_snapshot_files_applies_attributes_of_every_enclosing_folder(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({
        "deep/er/.gitattributes": "*.py text eol=crlf\n",
        "deep/er/win.py": "a = 1\n",
        "deep/unix.py": "b = 2\n",
        "top/.gitattributes": "*.py text eol=lf\n",
        "top/plain.py": "c = 3\n",
    })
    snapshot = await create_snapshot(repo.root)

    texts = await read_snapshot_files(snapshot, ["deep/er/win.py", "deep/unix.py", "top/plain.py"])

    assert texts == {"deep/er/win.py": "a = 1\r\n", "deep/unix.py": "b = 2\n",
                     "top/plain.py": "c = 3\n"}
