"""What the user receives is exactly the bytes that were verified, never a later rewrite.

The agent leaves a `setsid` double-forked daemon behind that rewrites the target after
the agent has exited: right after Stomper's re-check (it watches for the checker process
in its folder to come and go) or after a fixed delay. Repeated, on several files at once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.delivery.working_tree import deliver_to_working_tree
from stomper_lsp.workflow.capture import UncapturableFileError, capture
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from stomper_lsp.workflow.verified_fix import VerifiedFix, sha256_of
from tests.workflow.repos import BROKEN, FIX_BOTH, FIXED, fake, load

# Fails the checks (two unused imports): judged, it is rejected; only an unverified
# delivery could bring it to the user.
ROGUE = "import os\nimport sys  # rewritten after the agent ended\n"
FILES = ("a.py", "b.py", "c.py")


@pytest.mark.parametrize(
    "delay", [None, None, "0.02", "0.2"], ids=["after-check", "after-check-again", "20ms", "200ms"]
)
async def test_a_rewrite_after_the_agent_ends_never_reaches_the_user(
    make_repo: Any, delay: str | None
) -> None:
    root = make_repo(dict.fromkeys(FILES, BROKEN))
    late = ["--late-write", ROGUE.replace("\n", "\\n")]
    if delay is not None:
        late += ["--late-delay", delay]
    project = load(
        root, agent="command", agent_command=fake(*FIX_BOTH, *late), max_attempts=1,
        max_parallel_files=len(FILES),
    )
    report = await run_fix(project)
    verdicts = {o.path: (o.status, o.message) for o in report.files}
    assert set(verdicts) == set(FILES)
    for path, (status, message) in verdicts.items():
        # Judged after the rewrite (rejected by the checkers), caught changing while it was
        # judged, caught half-written (truncated: an emptied file), or judged before it: all
        # fine, as long as the rewrite is never delivered.
        assert status == FileStatus.FIXED or (
            status == FileStatus.FAILED
            and any(why in message for why in ("changed after the agent finished",
                                               "introduced", "the attempt emptied"))
        ), (path, status, message)
    assert all(change.new_text == FIXED for change in report.changes), report.changes
    delivered = await deliver_to_working_tree(root, report.changes)
    for path in FILES:
        text = (root / path).read_text()
        assert text in (FIXED, BROKEN), (path, text)
        assert (text == FIXED) == (path in delivered.written)
        verified = [
            a for o in report.files if o.path == path for a in o.attempt_reports
            if a.verdict == "accepted"
        ]
        assert bool(verified) == (text == FIXED)
    digest = hashlib.sha256(FIXED.encode()).hexdigest()
    for path in delivered.written:
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest


async def test_capture_notices_any_change_and_refuses_links(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("b = 1\n")
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "c.py").write_text("c = 1\n")
    captured = await capture(tmp_path, ["a.py", "b.py", "new.py"])
    assert captured.text("a.py") == "a = 1\n" and captured.data["new.py"] is None
    assert captured.changed_since() == []
    (tmp_path / "a.py").write_text("a = 2\n")  # same size, new bytes
    (tmp_path / "new.py").write_text("")
    assert captured.changed_since() == ["a.py", "new.py"]
    assert captured.text("a.py") == "a = 1\n"  # the capture itself never changes
    with pytest.raises(UncapturableFileError, match="inside linked, a symbolic link"):
        await capture(tmp_path, ["linked/c.py"])


def test_a_result_altered_after_capture_is_noticed() -> None:
    """What the coordinator merges must hash to what the body captured."""
    found = VerifiedFix(texts={"a.py": "a = 1\n", "b.py": "b = \udcff\n"})
    found.digests = {path: sha256_of(text) for path, text in found.texts.items()}
    assert found.altered_texts() == []
    assert found.digests["b.py"] == hashlib.sha256(b"b = \xff\n").hexdigest()
    found.texts["a.py"] = "a = 2\n"
    assert found.altered_texts() == ["a.py"]
