"""Refs in the shadow repository: pinning a run's snapshot, and tidying up after runs.

A run pins its snapshot commit with `refs/stomper/<run>` for as long as its pool is open,
so a `git gc` or `git prune` in the shadow (an agent may run one) cannot drop it. Pins are
created after the run's folder (with its owner file) and removed before it, so a sweep
that lists the refs first and the live run folders second never mistakes a live run's
pin for a dead one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from stomper_lsp.sandbox.git import run_git_dir

STOMPER_REFS = "refs/stomper/"
# Unreferenced objects younger than this are kept: they may belong to a snapshot whose
# run has not pinned it yet.
PRUNE_GRACE = "1.hour.ago"
# About fifty runs' snapshots: fewer are not worth a process on the way into a run.
PRUNE_AT_LOOSE = 256
_PLAIN_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def run_ref(run_id: str) -> str:
    """The pin's ref name; run ids that are not valid ref names are hashed."""
    if _PLAIN_RUN_ID.fullmatch(run_id):
        return f"{STOMPER_REFS}{run_id}"
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{STOMPER_REFS}h.{digest[:24]}"


async def pin_run(shadow: Path, run_id: str, commit: str) -> None:
    await run_git_dir(shadow, ["update-ref", "--no-deref", run_ref(run_id), commit])


async def unpin_run(shadow: Path, run_id: str) -> bool:
    """Drop the run's pin; False when git could not (the next sweep retries)."""
    result = await run_git_dir(
        shadow, ["update-ref", "--no-deref", "-d", run_ref(run_id)], check=False
    )
    return result.returncode == 0 and not result.timed_out


async def list_refs(shadow: Path) -> list[str]:
    result = await run_git_dir(shadow, ["for-each-ref", "--format=%(refname)"])
    return [line for line in result.stdout_text.splitlines() if line]


async def delete_refs(shadow: Path, refs: Iterable[str]) -> bool:
    """Delete `refs` in one transaction; False when git refused."""
    commands = "".join(f"delete {ref}\n" for ref in refs)
    if not commands:
        return True
    result = await run_git_dir(
        shadow, ["update-ref", "--no-deref", "--stdin"], stdin_data=commands.encode(), check=False
    )
    return result.returncode == 0 and not result.timed_out


async def prune_objects(shadow: Path) -> bool:
    """Delete the shadow's unreferenced loose objects older than the grace period, once
    there are enough of them to be worth a git process (False when git failed).

    Snapshots of finished runs would otherwise pile up for ever (nobody else runs gc in
    the shadow). Only the shadow's own objects are touched: alternates are never pruned.
    """
    if not await asyncio.to_thread(_has_loose_objects, shadow / "objects", PRUNE_AT_LOOSE):
        return True
    result = await run_git_dir(shadow, ["prune", f"--expire={PRUNE_GRACE}"], check=False)
    return result.returncode == 0 and not result.timed_out


def _has_loose_objects(objects: Path, at_least: int) -> bool:
    found = 0
    for fan_out in objects.glob("[0-9a-f][0-9a-f]"):
        with contextlib.suppress(OSError):
            found += len(os.listdir(fan_out))
        if found >= at_least:
            return True
    return False
