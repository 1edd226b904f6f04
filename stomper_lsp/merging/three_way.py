"""3-way text merge with `git merge-file`: the same algorithm git uses, no shell, no repo."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.process import run_process

_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MergeResult:
    text: str
    conflicts: int

    @property
    def clean(self) -> bool:
        return self.conflicts == 0


async def merge_texts(base: str, ours: str, theirs: str) -> MergeResult:
    """Merge `theirs` (Stomper's fix) into `ours` (the user's current text), both from `base`.

    Trivial cases skip the subprocess. On conflict `text` holds `ours` unchanged: callers
    report the conflict and never apply half a merge.
    """
    if theirs == base or ours == theirs:
        return MergeResult(ours, 0)
    if ours == base:
        return MergeResult(theirs, 0)
    with tempfile.TemporaryDirectory(prefix="stomper-merge-") as tmp:
        folder = Path(tmp)
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = folder / name
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            paths.append(str(path))
        result = await run_process(
            ["git", "merge-file", "-p", "--", *paths], cwd=folder, timeout=_TIMEOUT_S
        )
    if result.timed_out or not 0 <= result.returncode < 128:  # 255: git's "negative" error
        raise RuntimeError(f"git merge-file failed: {result.stderr_text.strip()}")
    if result.returncode > 0:
        return MergeResult(ours, result.returncode)
    return MergeResult(result.stdout.decode("utf-8", errors="surrogateescape"), 0)
