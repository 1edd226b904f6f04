"""Background fix runs end to end: command, progress, one applyEdit, the text afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import make_test_lsp_client

from tests.server.editor import Editor
from tests.server.helpers import (
    FAKE_AGENT,
    SERVER_COMMAND,
    capabilities,
    start,
    wait_until,
    write_project,
)

pytestmark = pytest.mark.slow
RUFF_ONLY = {"tools": ["ruff"]}


def no_sandbox_left() -> bool:
    """Run folders (each with its owner.json) are gone; the shared shadow repo may stay."""
    return not list(Path(os.environ["STOMPER_SANDBOX_DIR"]).rglob("owner.json"))


def summary(editor: Editor) -> str | None:
    return next(
        (m.message for m in editor.client.messages if m.message.startswith("Stomper: ")), None
    )


def progress_values(editor: Editor) -> list[object]:
    assert len(editor.client.progress_reports) == 1, editor.client.progress_reports
    return next(iter(editor.client.progress_reports.values()))


@pytest.mark.parametrize("preset", ["visual-studio-code", "neovim"])
async def test_fix_all_with_the_ruff_agent(editor: Editor, preset: str, tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "proj",
        {"a.py": "import os\nimport sys\n\nprint(sys)\n", "b.py": "import json\n\nprint(json)\n"},
    )
    await start(editor, root, preset, settings=RUFF_ONLY)
    # b.py has an unsaved unused import: the run must see (and fix) the buffer, not the disk.
    doc_b = editor.open(root / "b.py", "import json\nimport re\n\nprint(json)\n")
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.fixAll", arguments=[root.as_uri()])
    )
    assert result["started"] is True
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "2 files fixed (2 issues)" in message, message
    assert len(editor.edits) == 1 and editor.edits[0].label.startswith("Stomper: fix 2 issues")
    if preset == "visual-studio-code":
        assert editor.edits[0].edit.document_changes and not editor.edits[0].edit.changes
    else:
        assert editor.edits[0].edit.changes and not editor.edits[0].edit.document_changes
    assert editor.text(doc_b) == "import json\n\nprint(json)\n"
    assert (root / "a.py").read_text() == "import sys\n\nprint(sys)\n"
    assert (root / "b.py").read_text() == "import json\n\nprint(json)\n"  # never touched
    begin, *reports, end = progress_values(editor)
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable
    assert reports and all(isinstance(r, types.WorkDoneProgressReport) for r in reports)
    assert any(re.fullmatch(r"\d+/2 files · \d+ running.*", r.message or "") for r in reports)
    assert [r.percentage for r in reports] == sorted(r.percentage for r in reports)
    assert isinstance(end, types.WorkDoneProgressEnd) and "2 files fixed" in (end.message or "")
    # The VS Code extension recognises the summary (for its Show log button) by this.
    assert end.message and message.endswith(end.message)
    assert no_sandbox_left()


def fake_agent(*flags: str) -> dict[str, object]:
    """Editor settings for the fake agent (editor settings may name a program)."""
    return {
        **RUFF_ONLY,
        "agent": "command",
        "agentCommand": [sys.executable, str(FAKE_AGENT), "{file}", *flags],
        "maxAttempts": 1,
    }


def agent_running(editor: Editor) -> bool:
    reports = next(iter(editor.client.progress_reports.values()), [])
    return any(getattr(r, "message", "") and "1 running" in r.message for r in reports)


async def fix_all(editor: Editor, root: Path) -> dict[str, object]:
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.fixAll", arguments=[root.as_uri()])
    )
    assert isinstance(result, dict)
    return result


async def test_typing_during_the_run_is_merged_not_lost(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n\nx = 1\n"})
    await start(editor, root, "visual-studio-code",
                settings=fake_agent("--sleep", "1.5", "--replace", "import os\\n\\n", ""))
    doc = editor.open(root / "mod.py")
    await fix_all(editor, root)
    await wait_until(lambda: agent_running(editor), timeout=30)
    editor.set_text(doc, "import os\n\nx = 1\ny = 2\n")  # typed while the agent works
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "1 file fixed" in message and "Merged with your edits in mod.py" in message
    assert editor.text(doc) == "x = 1\ny = 2\n"
    assert len(editor.edits) == 1


async def test_conflicting_typing_is_left_alone_and_reported(
    editor: Editor, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n\nx = 1\n"})
    await start(editor, root, "emacs",
                settings=fake_agent("--sleep", "1.5", "--replace", "import os\\n\\n", ""))
    doc = editor.open(root / "mod.py")
    await fix_all(editor, root)
    await wait_until(lambda: agent_running(editor), timeout=30)
    editor.set_text(doc, "import os, sys\n\nx = 1\n")  # the very line the agent deletes
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "1 conflict left alone" in message
    assert editor.text(doc) == "import os, sys\n\nx = 1\n"
    assert editor.edits == []


async def hanging_pids(pids: Path) -> tuple[int, int]:
    """The hanging fake agent's pid and its child's, once it has written both."""

    def ready() -> str | None:
        path = pids / "agent.pid"  # written after child.pid
        return path.read_text().strip() if path.exists() else None

    agent = int(await wait_until(ready, timeout=30))
    return agent, int((pids / "child.pid").read_text())


def _alive(pid: int) -> bool:
    """Running (a zombie, killed but not yet reaped by a container's init, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("how", ["command", "progress"])
async def test_cancel_kills_the_agents_and_leaves_no_sandbox(
    agent_out: Path, real_pids: None, editor: Editor, tmp_path: Path, how: str
) -> None:
    pids = agent_out / "pids"
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "visual-studio-code",
                settings=fake_agent("--hang", "--pid-dir", str(pids)))
    await fix_all(editor, root)
    agent, child = await hanging_pids(pids)
    if how == "command":
        result = await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="stomper.cancel", arguments=[])
        )
        assert result == {"cancelled": 1}
    else:
        token = next(iter(editor.client.progress_reports))
        editor.client.window_work_done_progress_cancel(
            types.WorkDoneProgressCancelParams(token=token)
        )
    message = await wait_until(lambda: summary(editor), timeout=30)
    assert "cancelled" in message
    await wait_until(lambda: not _alive(agent) and not _alive(child), timeout=5)
    assert no_sandbox_left()
    end = progress_values(editor)[-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and "Cancelled" in (end.message or "")
    assert editor.edits == [] and (root / "mod.py").read_text() == "import os\n"


async def test_one_run_per_folder_at_a_time(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "neovim", settings=fake_agent("--sleep", "3"))
    assert (await fix_all(editor, root))["started"] is True
    second = await fix_all(editor, root)
    assert second["started"] is False and "already fixing" in str(second["reason"])
    assert any("already fixing" in m.message for m in editor.client.messages)
    await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.cancel", arguments=[root.as_uri()])
    )
    await wait_until(lambda: summary(editor), timeout=30)


async def test_cancel_sent_right_after_fix_all_cancels_it(editor: Editor, tmp_path: Path) -> None:
    """Fix all, then cancel at once (Neovim sends both in one write): the cancel must not
    overtake the fix-all ("no fix run to cancel" while the run goes on), and a run
    cancelled before it began still says it was cancelled."""
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "neovim", settings=fake_agent("--sleep", "3"))
    started, cancelled = await asyncio.gather(
        fix_all(editor, root),
        editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="stomper.cancel", arguments=[root.as_uri()])
        ),
    )
    assert started["started"] is True
    assert cancelled == {"cancelled": 1}
    message = await wait_until(lambda: summary(editor), timeout=30)
    assert message == "Stomper: fix run cancelled; nothing was changed."
    assert editor.edits == [] and (root / "mod.py").read_text() == "import os\n"


async def test_cancel_with_nothing_running_says_so(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.cancel", arguments=[])
    )
    assert result == {"cancelled": 0}
    await wait_until(lambda: any(
        m.message == "Stomper: no fix run to cancel." for m in editor.client.messages
    ))


async def test_a_refused_edit_is_reported(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    editor.refuse = "read-only buffer"
    await fix_all(editor, root)
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "did not apply the fixes: read-only buffer" in message
    assert (root / "mod.py").read_text() == "import os\n"


async def test_fix_file_fixes_only_that_file(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"a.py": "import os\n", "b.py": "import sys\n"})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    doc = editor.open(root / "a.py")
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.fixFile", arguments=[{"uri": doc}])
    )
    assert result["started"] is True and result["files"] == ["a.py"]
    await wait_until(lambda: summary(editor), timeout=60)
    assert editor.text(doc) == ""
    assert (root / "b.py").read_text() == "import sys\n"


async def test_a_folder_that_is_not_a_git_repository(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"a.py": "import os\n"}, commit=False)
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    await fix_all(editor, root)
    message = await wait_until(
        lambda: next((m for m in editor.client.messages if "could not start" in m.message), None),
        timeout=30,
    )
    assert message.type == types.MessageType.Error
    assert editor.edits == []


async def test_a_client_without_progress_support_gets_none(
    editor: Editor, tmp_path: Path
) -> None:
    """No `window/workDoneProgress/create` unless the client advertises it (pytest-lsp
    turns an out-of-spec create into a failure)."""
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    caps = capabilities("neovim")
    assert caps.window is not None
    caps.window.work_done_progress = False
    result = await editor.client.initialize_session(
        types.InitializeParams(capabilities=caps, root_uri=root.as_uri(),
                               initialization_options=RUFF_ONLY)
    )
    editor.negotiated(result)
    await fix_all(editor, root)
    assert "1 file fixed" in await wait_until(lambda: summary(editor), timeout=60)
    assert editor.client.progress_reports == {}
    assert (root / "mod.py").read_text() == ""


async def test_fix_all_without_arguments_fixes_every_folder(
    editor: Editor, tmp_path: Path
) -> None:
    one = write_project(tmp_path / "one", {"a.py": "import os\n"})
    two = write_project(tmp_path / "two", {"b.py": "import sys\n"})
    await start(editor, None, "visual-studio-code", settings=RUFF_ONLY, folders=[one, two])
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.fixAll", arguments=[])
    )
    assert [run["started"] for run in result["runs"]] == [True, True]
    await wait_until(
        lambda: sum(m.message.startswith("Stomper: 1 file fixed") for m in editor.client.messages)
        == 2,
        timeout=60,
    )
    assert len(editor.edits) == 2  # one edit per folder's run
    assert (one / "a.py").read_text() == "" and (two / "b.py").read_text() == ""


async def test_sigterm_stops_the_agents_before_the_server_goes(
    agent_out: Path, real_pids: None, editor: Editor, tmp_path: Path
) -> None:
    pids = agent_out / "pids"
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n"})
    await start(editor, root, "emacs", settings=fake_agent("--hang", "--pid-dir", str(pids)))
    await fix_all(editor, root)
    agent, child = await hanging_pids(pids)
    server = editor.client._server
    assert server is not None
    server.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 15) == 0
    for pid in (agent, child):
        await wait_until(lambda pid=pid: not _alive(pid), timeout=5)
    assert no_sandbox_left()
    editor.client.capabilities = None  # nothing left to shut down


async def test_nothing_to_fix(editor: Editor, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", {"mod.py": "x = 1\n"})
    await start(editor, root, "emacs", settings=RUFF_ONLY)
    await fix_all(editor, root)
    assert "nothing to fix" in await wait_until(lambda: summary(editor), timeout=60)
    assert editor.edits == []


async def test_an_edit_refused_for_a_stale_version_is_recomputed(
    editor: Editor, tmp_path: Path
) -> None:
    """VS Code refuses a versioned edit for a buffer that moved on; Stomper merges again."""
    root = write_project(tmp_path / "proj", {"mod.py": "import os\n\nx = 1\n"})
    await start(editor, root, "visual-studio-code", settings=RUFF_ONLY)
    doc = editor.open(root / "mod.py")
    editor.interrupt = lambda: editor.set_text(doc, "import os\n\nx = 1\ny = 2\n")
    await fix_all(editor, root)
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "1 file fixed" in message and "Merged with your edits in mod.py" in message
    assert len(editor.edits) == 2  # the refused one, then the recomputed one
    assert editor.text(doc) == "\nx = 1\ny = 2\n"  # ruff's fix of F401 keeps the blank line


async def test_resume_after_a_cancelled_fix_all_reruns_only_unfinished_files(
    editor: Editor, tmp_path: Path, agent_out: Path
) -> None:
    """stomper.resume: the files an interrupted fix-all finished are reused, not re-run."""
    root = write_project(tmp_path / "proj", {"a.py": "import os\n", "b.py": "import os\n"})
    count = agent_out / "count"
    settings = fake_agent("--count-file", str(count), "--sleep", "1",
                          "--replace", "import os\\n", "")
    await start(editor, root, "visual-studio-code", settings={**settings, "maxParallelFiles": 1})
    await fix_all(editor, root)
    # The second agent starts only after the first file finished (and was stored).
    await wait_until(lambda: count.exists() and len(count.read_text().splitlines()) == 2,
                     timeout=60)
    await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.cancel", arguments=[])
    )
    await wait_until(lambda: summary(editor), timeout=30)
    editor.client.messages.clear()
    result = await editor.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="stomper.resume", arguments=[root.as_uri()])
    )
    assert result["started"] is True
    message = await wait_until(lambda: summary(editor), timeout=60)
    assert "2 files fixed" in message, message
    assert len(count.read_text().splitlines()) == 3  # only the unfinished file ran again


async def test_a_restarted_server_offers_to_resume_a_killed_fix_all(
    editor: Editor, tmp_path: Path, agent_out: Path
) -> None:
    """The server is SIGKILLed mid fix-all; the next one asks once, and "Resume" re-runs
    only the unfinished file; once it finished, a later server asks nothing."""
    root = write_project(tmp_path / "proj", {"a.py": "import os\n", "b.py": "import os\n"})
    count = agent_out / "count"
    settings = {**fake_agent("--count-file", str(count), "--sleep", "1",
                             "--replace", "import os\\n", ""), "maxParallelFiles": 1}
    await start(editor, root, "visual-studio-code", settings=settings)
    await fix_all(editor, root)
    await wait_until(lambda: count.exists() and len(count.read_text().splitlines()) == 2,
                     timeout=60)  # the first file finished (and was stored)
    server = editor.client._server
    assert server is not None
    server.send_signal(signal.SIGKILL)
    await asyncio.wait_for(server.wait(), 15)
    editor.client.capabilities = None  # nothing left to shut down

    asked: list[types.ShowMessageRequestParams] = []
    second = make_test_lsp_client()

    @second.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(params: types.ShowMessageRequestParams) -> types.MessageActionItem:
        asked.append(params)
        return types.MessageActionItem("Resume")

    await second.start_io(*SERVER_COMMAND)
    again = Editor(second)
    again.install()
    try:
        await start(again, root, "visual-studio-code", settings=settings)
        await wait_until(lambda: asked, timeout=30)
        assert "fix-all of proj" in asked[0].message and "Resume it?" in asked[0].message
        message = await wait_until(lambda: summary(again), timeout=60)
        assert "2 files fixed" in message, message
        assert len(count.read_text().splitlines()) == 3  # only b.py ran again
        assert (root / "a.py").read_text() == "" and (root / "b.py").read_text() == ""
        # Finished: a third server has nothing to offer.
        await second.shutdown_session()
        third = make_test_lsp_client()
        third.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)(lambda params: asked.append(params))
        await third.start_io(*SERVER_COMMAND)
        try:
            await start(Editor(third), root, "visual-studio-code", settings=settings)
            await asyncio.sleep(2)
            assert len(asked) == 1
        finally:
            await third.shutdown_session()
    finally:
        if second.capabilities is not None:
            with contextlib.suppress(Exception):
                await second.shutdown_session()
