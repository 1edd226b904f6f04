"""A file being saved while the snapshot reads it is never taken half written."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from stomper_lsp.sandbox.snapshot import SandboxError, create_snapshot, read_snapshot_files
from tests.sandbox.conftest import RepoFactory

FIRST = "".join(f"first_{i} = {i}\n" for i in range(20000))
SECOND = "".join(f"second_{i} = {i}\n" for i in range(20000))


def _save_in_pieces(path: Path, stop: threading.Event, saves: int) -> None:
    """An editor that truncates, then writes the text in two parts a moment apart."""
    texts = [FIRST.encode(), SECOND.encode()]
    turn = 0
    while not stop.is_set() and turn < saves:
        data = texts[turn % 2]
        with path.open("wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            time.sleep(0.002)
            handle.write(data[len(data) // 2 :])
        turn += 1
        time.sleep(0.004)


async def test_a_file_saved_during_the_snapshot_is_whole_or_reported(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"app.py": FIRST, "other.py": "x = 1\n"})
    target = repo.root / "app.py"
    seen: set[str] = set()
    for trial in range(12):
        stop = threading.Event()
        # A burst of saves (a formatter on save, an agent's edits), or one that never ends.
        saves = 10**9 if trial == 0 else 8
        writer = threading.Thread(target=_save_in_pieces, args=(target, stop, saves))
        writer.start()
        try:
            snapshot = await create_snapshot(repo.root)
        except SandboxError as exc:
            assert "kept changing" in str(exc)
            seen.add("reported")
            continue
        finally:
            stop.set()
            writer.join()
        text = (await read_snapshot_files(snapshot, ["app.py"]))["app.py"]
        assert text in (FIRST, SECOND), f"half-written snapshot: {len(text or '')} chars"
        seen.add("whole")
    # A burst that ends is waited out; only the endless writer may be reported.
    assert "whole" in seen


async def test_a_settled_tree_needs_no_second_look(new_repo: RepoFactory) -> None:
    repo = new_repo({"app.py": "x = 1\n"})
    repo.write("app.py", "x = 2\n")
    snapshot = await create_snapshot(repo.root)
    assert (await read_snapshot_files(snapshot, ["app.py"]))["app.py"] == "x = 2\n"
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo.root, capture_output=True,
                          text=True).stdout == " M app.py\n"
