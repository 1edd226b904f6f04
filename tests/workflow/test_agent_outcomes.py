"""One fake agent behaviour per test, judged by re-running real ruff in real worktrees."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, FixReport
from tests.processes import wait_dead
from tests.workflow.repos import (
    BROKEN,
    FIX_BOTH,
    FIXED,
    RUFF_ONLY,
    fake,
    git,
    load,
    user_state,
)


async def fix_one(root: Path, *agent_args: str, **overrides: Any) -> FixReport:
    settings: dict[str, Any] = {"agent": "command", "agent_command": fake(*agent_args)}
    settings.update(overrides)
    return await run_fix(load(root, **settings))


async def test_good_fix_is_accepted_and_user_repo_untouched(make_repo: Any) -> None:
    root = make_repo({"pkg/mod.py": BROKEN})
    before = user_state(root)
    report = await fix_one(root, *FIX_BOTH)
    [outcome] = report.files
    assert outcome.status == FileStatus.FIXED
    assert (outcome.issues_before, outcome.issues_after, outcome.attempts) == (2, 0, 1)
    assert [(c.path, c.base_text, c.new_text) for c in report.changes] == [
        ("pkg/mod.py", BROKEN, FIXED)
    ]
    assert (report.issues_before, report.issues_after) == (2, 0)
    assert set(report.timings) == {"snapshot", "collect", "fix", "cleanup"}
    assert sum(report.timings.values()) <= report.duration_s
    assert user_state(root) == before  # the engine itself writes nothing of the user's


async def test_noop_agent_leaves_file_unchanged(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, max_attempts=2)
    assert report.files[0].status == FileStatus.UNCHANGED
    assert report.files[0].attempts == 2  # a command agent gets another chance
    assert report.changes == []


async def test_partial_fix_is_kept_as_partial(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, "--replace", "== None", "is None", max_attempts=1)
    [outcome] = report.files
    assert outcome.status == FileStatus.PARTIAL
    assert (outcome.issues_before, outcome.issues_after) == (2, 1)
    assert "is None" in (report.changes[0].new_text or "")


async def test_fix_that_introduces_an_issue_is_rejected_and_retried(
    make_repo: Any, tmp_path: Path, agent_out: Path
) -> None:
    root = make_repo({"mod.py": BROKEN})
    count = agent_out / "count"
    report = await fix_one(
        root, *FIX_BOTH, "--append", "import sys\\n", "--count-file", str(count),
        max_attempts=2,
    )
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.issues_introduced >= 1 and "introduced" in outcome.message
    assert len(count.read_text().splitlines()) == 2
    assert report.changes == []


async def test_retry_with_feedback_can_succeed(
    make_repo: Any, tmp_path: Path, agent_out: Path,
) -> None:
    root = make_repo({"mod.py": BROKEN})
    count = agent_out / "count"
    report = await fix_one(
        root, "--count-file", str(count), "--fail-first", "1", *FIX_BOTH, max_attempts=3
    )
    assert report.files[0].status == FileStatus.FIXED
    assert report.files[0].attempts == 2


async def test_syntax_error_is_rejected(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, *FIX_BOTH, "--syntax-error", max_attempts=1)
    assert report.files[0].status == FileStatus.FAILED
    assert "invalid-syntax" in report.files[0].message


async def test_edit_of_another_file_that_adds_an_issue_is_rejected(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    report = await fix_one(
        root, *FIX_BOTH, "--write", "other.py", "import json\\nX = 1\\n", max_attempts=1
    )
    assert report.files[0].status == FileStatus.FAILED
    assert "other.py" in report.files[0].message


async def test_clean_edit_of_another_file_is_delivered_too(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN, "other.py": "X = 1\n"})
    report = await fix_one(root, *FIX_BOTH, "--write", "other.py", "X = 2\n")
    assert report.files[0].status == FileStatus.FIXED
    assert report.files[0].changed_paths == ["mod.py", "other.py"]
    assert {c.path: c.new_text for c in report.changes}["other.py"] == "X = 2\n"


async def test_deleting_the_target_is_rejected(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, "--delete", max_attempts=1)
    assert report.files[0].status == FileStatus.FAILED
    assert "deleted" in report.files[0].message
    assert (root / "mod.py").read_text() == BROKEN


async def test_writing_into_git_is_rejected_without_retry(
    make_repo: Any, tmp_path: Path, agent_out: Path,
) -> None:
    root = make_repo({"mod.py": BROKEN})
    count = agent_out / "count"
    report = await fix_one(
        root, *FIX_BOTH, "--touch-git", "--count-file", str(count), max_attempts=3
    )
    assert report.files[0].status == FileStatus.FAILED
    assert ".git" in report.files[0].message
    assert len(count.read_text().splitlines()) == 1


async def test_writing_outside_the_project_is_rejected(make_repo: Any) -> None:
    root = make_repo(
        {"app/pyproject.toml": RUFF_ONLY, "app/mod.py": BROKEN, "elsewhere.py": "X = 1\n"}
    )
    escape = fake(*FIX_BOTH, "--write", "../elsewhere.py", "Y\\n")
    report = await run_fix(
        load(root / "app", agent="command", max_attempts=1, agent_command=escape)
    )
    assert report.files[0].status == FileStatus.FAILED
    assert "outside the project" in report.files[0].message



@pytest.mark.slow
async def test_hanging_agent_is_killed_with_its_children(
    make_repo: Any, tmp_path: Path, agent_out: Path, real_pids: None,
) -> None:
    root = make_repo({"mod.py": BROKEN})
    pids = agent_out / "pids"
    report = await fix_one(
        root, *FIX_BOTH, "--hang", "--pid-dir", str(pids), agent_timeout=1.5, max_attempts=1
    )
    [outcome] = report.files
    assert outcome.status == FileStatus.FAILED
    assert outcome.duration_s < 15
    for name in ("agent.pid", "child.pid"):
        assert wait_dead(int((pids / name).read_text())), name


async def test_crashing_agent_is_judged_by_its_edits_not_its_exit_code(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, *FIX_BOTH, "--crash")
    assert report.files[0].status == FileStatus.FIXED
    log = Path(report.files[0].log_path or "")
    assert "Traceback" in log.read_text()


async def test_megabytes_of_output_are_bounded_in_the_log(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    report = await fix_one(root, *FIX_BOTH, "--spew", "20")
    assert report.files[0].status == FileStatus.FIXED
    assert Path(report.files[0].log_path or "").stat().st_size < 4 * 1024 * 1024


async def test_same_file_name_in_different_folders(make_repo: Any) -> None:
    root = make_repo({"a/utils.py": BROKEN, "b/utils.py": BROKEN})
    report = await fix_one(root, *FIX_BOTH, max_parallel_files=2)
    assert [(o.path, o.status) for o in report.files] == [
        ("a/utils.py", FileStatus.FIXED), ("b/utils.py", FileStatus.FIXED)
    ]
    assert len({o.log_path for o in report.files}) == 2
    assert {c.path for c in report.changes} == {"a/utils.py", "b/utils.py"}


async def test_paths_with_spaces_and_non_ascii(make_repo: Any) -> None:
    root = make_repo({"my dir/módulo file.py": BROKEN}, name="prøject x")
    report = await fix_one(root, *FIX_BOTH)
    assert [(o.path, o.status) for o in report.files] == [
        ("my dir/módulo file.py", FileStatus.FIXED)
    ]


async def test_built_in_ruff_agent_fixes_offline_and_reports_mypy_as_unfixed(
    make_repo: Any,
) -> None:
    root = make_repo(
        {"mod.py": "import os\n\n\ndef f(x: int) -> str:\n    return x == None\n"}
    )
    report = await run_fix(load(root, tools=["ruff", "mypy"]))
    [outcome] = report.files
    assert outcome.status == FileStatus.PARTIAL  # mypy's return-value stays, honestly
    assert outcome.issues_after >= 1
    assert "import os" not in (report.changes[0].new_text or "")


async def test_built_in_agent_falls_back_to_safe_fixes_after_a_rejection(
    make_repo: Any,
) -> None:
    """ruff's unsafe B006 fix makes mypy complain; attempt 2 restarts with safe fixes only."""
    root = make_repo(
        {
            "pyproject.toml": '[tool.ruff.lint]\nselect = ["F", "B006", "UP006"]\n',
            "mod.py": (
                "from typing import List\n\n\n"
                "def add(item: int, items: List[int] = []) -> List[int]:\n"
                "    items.append(item)\n"
                "    return items\n"
            ),
        }
    )
    report = await run_fix(load(root, tools=["ruff", "mypy"]))
    [outcome] = report.files
    assert (outcome.status, outcome.attempts) == (FileStatus.PARTIAL, 2)
    new_text = report.changes[0].new_text or ""
    assert "items: list[int] = []" in new_text  # the safe UP006 fix, without the unsafe B006
    assert "typing" not in new_text


async def test_files_written_by_the_test_command_are_not_delivered(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN})
    writes_artifact = [sys.executable, "-c", "open('artifact.txt', 'w').write('report')"]
    report = await fix_one(root, *FIX_BOTH, test_command=writes_artifact)
    assert report.files[0].status == FileStatus.FIXED
    assert [c.path for c in report.changes] == ["mod.py"]
    assert report.files[0].changed_paths == ["mod.py"]


async def test_test_command_runs_in_the_sandbox_with_placeholders_and_assignments(
    make_repo: Any,
) -> None:
    """`PYTHONPATH={workdir} ...` as typed at a prompt works without `sh -c`."""
    root = make_repo({"mod.py": BROKEN})
    probe = (
        "import os, sys; wd = os.environ['PYTHONPATH']; "
        f"ok = wd == os.getcwd() != {str(root)!r} and os.environ['TARGET'] == 'mod.py' "
        "and 'GIT_DIR' not in os.environ and open(os.path.join(wd, 'mod.py')).read() == "
        f"{FIXED!r}; sys.exit(0 if ok else 3)"
    )
    command = ["PYTHONPATH={workdir}", "TARGET={file}", sys.executable, "-c", probe]
    report = await fix_one(root, *FIX_BOTH, test_command=command, test_mode="per-file")
    assert report.files[0].status == FileStatus.FIXED, report.files[0].message


async def test_repository_without_commits_works(make_repo: Any) -> None:
    root = make_repo({"mod.py": BROKEN}, commit=False)
    report = await fix_one(root, *FIX_BOTH)
    assert [(o.path, o.status) for o in report.files] == [("mod.py", FileStatus.FIXED)]
    assert report.changes[0].new_text == FIXED
    assert git(root, "status", "--porcelain").split() == ["??", "mod.py", "??", "pyproject.toml"]
