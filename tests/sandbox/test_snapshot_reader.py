"""The long-lived snapshot reader answers exactly what `read_snapshot_files` answers, with
one git process for the whole run instead of three per read."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import pytest

from stomper_lsp.process import Dialogue, ProcessResult
from stomper_lsp.sandbox import git as sandbox_git
from stomper_lsp.sandbox.snapshot import create_snapshot, read_snapshot_files
from stomper_lsp.sandbox.snapshot_reader import SnapshotReader
from tests.sandbox.conftest import RepoFactory

FILES = {
    "pkg/mod 0 ü.py": "value = 0\n",
    "pkg/sub/deep.py": "deep = 1\n",
    "tool.py": "#!/usr/bin/env python3\n",
    "bin.dat": "\udcff",
    "crlf/.gitattributes": "*.py text eol=crlf\n",
    "crlf/win.py": "a = 1\nb = 2\n",
    "plain/unix.py": "c = 3\n",
}
ASKED = [*FILES, "missing.py", "pkg", "pkg/missing/x.py", "tool.py/x", "link.py",
         "crlf/missing.py"]


async def test_same_answers_as_the_exact_reader_from_one_process(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(FILES)
    os.symlink("tool.py", repo.root / "link.py")
    os.chmod(repo.root / "tool.py", 0o755)
    snapshot = await create_snapshot(repo.root, {"plain/unix.py": "c = 'unsaved'\n"})
    exact = await read_snapshot_files(snapshot, ASKED)
    starts: list[tuple[str, ...]] = []
    real = sandbox_git.run_process

    async def counting(argv: Sequence[str], **kwargs: Any) -> ProcessResult:
        starts.append(tuple(argv))
        return await real(argv, **kwargs)

    monkeypatch.setattr(sandbox_git, "run_process", counting)
    reader = SnapshotReader(snapshot)
    try:
        fast = {}
        for path in [p for p in ASKED if not p.startswith("crlf/")]:
            fast.update(await reader.read([path]))
        after_config_check = len(starts)
        assert after_config_check == 1  # `git config`, once; the reads used the running git
        assert fast == {p: exact[p] for p in fast}
        assert fast["link.py"] is None and fast["pkg"] is None and fast["tool.py/x"] is None
        assert fast["plain/unix.py"] == "c = 'unsaved'\n"
        # Under a .gitattributes the exact way decides (eol=crlf applied).
        crlf = await reader.read(["crlf/win.py", "crlf/missing.py"])
        assert crlf == {"crlf/win.py": "a = 1\r\nb = 2\r\n", "crlf/missing.py": None}
        assert len(starts) > after_config_check
    finally:
        await reader.close()


async def test_autocrlf_sends_every_read_the_exact_way(new_repo: RepoFactory) -> None:
    repo = new_repo({"a.py": "x = 1\n"})
    repo.git("config", "core.autocrlf", "true")
    snapshot = await create_snapshot(repo.root)
    reader = SnapshotReader(snapshot)
    try:
        assert await reader.read(["a.py"]) == await read_snapshot_files(snapshot, ["a.py"])
        assert reader._dialogue is None  # never started: nothing could take the fast way
    finally:
        await reader.close()


async def test_a_read_cancelled_mid_reply_leaves_the_reader_usable(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({f"m{i}.py": f"x = {i}\n" * 2000 for i in range(20)})
    snapshot = await create_snapshot(repo.root)
    reader = SnapshotReader(snapshot)
    try:
        for _ in range(5):
            task = asyncio.ensure_future(reader.read([f"m{i}.py" for i in range(20)]))
            await asyncio.sleep(0.001)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        texts = await reader.read([f"m{i}.py" for i in range(20)])
        assert texts == {f"m{i}.py": f"x = {i}\n" * 2000 for i in range(20)}
    finally:
        await reader.close()


async def test_expected_files_are_read_in_batches_with_the_same_answers(
    new_repo: RepoFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"m{i}.py": f"x = {i}\n" for i in range(40)}
    files |= {"same_a.py": "same = 1\n", "same_b.py": "same = 1\n", **FILES}
    repo = new_repo(files)
    snapshot = await create_snapshot(repo.root, {"m5.py": "x = 'unsaved'\n"})
    order = [*files, "missing.py"]
    exact = await read_snapshot_files(snapshot, order)
    writes: list[int] = []
    real_send = Dialogue.send

    async def counting(self: Dialogue, data: bytes) -> None:
        writes.append(data.count(b"\n"))
        await real_send(self, data)

    monkeypatch.setattr(Dialogue, "send", counting)
    reader = SnapshotReader(snapshot)
    try:
        reader.expect(order)
        for path in order:
            assert await reader.read([path]) == {path: exact[path]}, path
    finally:
        await reader.close()
    # The root tree, then the 42 files at the root in two batches; the files in folders
    # are read once their folder's tree is known (a write for each tree and each of them).
    assert writes[:3] == [1, 32, 11], writes
    assert len(writes) < len(order) // 4, writes
