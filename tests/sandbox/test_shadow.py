"""Sandboxes and snapshots live in Stomper's shadow repository, never in the user's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stomper_lsp.sandbox import shadow_guard
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.pool import WorktreePool
from stomper_lsp.sandbox.shadow import render_settings
from stomper_lsp.sandbox.snapshot import create_snapshot, read_snapshot_files
from tests.sandbox.conftest import RepoFactory, git, shadow_git, stomper_refs

AGENT = ["-c", "user.name=agent", "-c", "user.email=agent@example.com"]


def agent_git(sandbox: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git the way an agent runs it: plain `git` in its sandbox, whatever it asks for."""
    return subprocess.run(
        ["git", *AGENT, *args], cwd=sandbox, capture_output=True, text=True, check=True
    )


def object_exists(cwd: Path, name: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", name], cwd=cwd, capture_output=True)
    return found.returncode == 0


async def test_a_snapshot_writes_nothing_into_the_users_git_dir(
    new_repo: RepoFactory, sandbox_dir: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n", "b.py": "b = 1\n", "pkg/c.py": "c = 1\n"})
    repo.write("a.py", "a = 2  # modified\n")
    repo.write("pkg/new.py", "n = 1  # untracked\n")
    repo.git("add", "pkg/new.py")
    repo.write("pkg/newer.py", "m = 1  # untracked, not added\n")
    before = repo.git_dir_files()

    snapshot = await create_snapshot(repo.root, {"b.py": "b = 2  # unsaved\n"})
    texts = await read_snapshot_files(snapshot, ["a.py", "b.py", "pkg/newer.py"])

    assert repo.git_dir_files() == before  # objects, refs, index, config, logs: identical
    assert not object_exists(repo.root, snapshot.commit)
    assert snapshot.shadow_dir == repo.shadow(sandbox_dir)
    assert not snapshot.shadow_dir.is_relative_to(repo.root)
    assert object_exists(snapshot.shadow_dir, snapshot.commit)
    assert texts == {
        "a.py": "a = 2  # modified\n",
        "b.py": "b = 2  # unsaved\n",
        "pkg/newer.py": "m = 1  # untracked, not added\n",
    }
    alternates = (snapshot.shadow_dir / "objects" / "info" / "alternates").read_text()
    assert alternates.splitlines() == [str((repo.root / ".git" / "objects").resolve())]


async def test_agent_git_commands_in_a_sandbox_never_reach_the_users_repository(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"app.py": "x = 1\n", "lib.py": "y = 1\n"})
    repo.git("config", "user.name", "The User")
    repo.write("app.py", "x = 2  # the user's work in progress\n")
    before = repo.state()
    config_before = (repo.root / ".git" / "config").read_bytes()
    snapshot = await create_snapshot(repo.root)
    shadow = snapshot.shadow_dir
    shadow_config = (shadow / "config").read_bytes()

    async with WorktreePool(snapshot, 1) as pool:
        async with pool.lease() as sandbox:
            box = sandbox.path
            assert object_exists(box, snapshot.commit)  # readable from the sandbox
            (box / "lib.py").write_text("y = 2\n")
            agent_git(box, "stash")
            agent_git(box, "checkout", "-q", "-b", "evil")
            agent_git(box, "tag", "t")
            agent_git(box, "config", "user.name", "x")
            (box / "app.py").write_text("x = 3  # agent\n")
            agent_git(box, "commit", "-qam", "x")
            agent_git(box, "update-ref", "refs/heads/main", "HEAD")
            agent_git(box, "gc", "--quiet")
            assert (await sandbox.changes()).touched_git is True  # its HEAD moved
            assert repo.state() == before
            refs = shadow_git(shadow, "for-each-ref", "--format=%(refname)").split()
            assert {"refs/heads/evil", "refs/heads/main", "refs/tags/t", "refs/stash"} <= set(
                refs
            )
        async with pool.lease() as sandbox:  # the slot was rebuilt at the snapshot
            assert (sandbox.path / "app.py").read_text() == "x = 2  # the user's work in progress\n"
            assert (await sandbox.changes()).changed == []

    assert repo.state() == before
    assert (repo.root / ".git" / "config").read_bytes() == config_before
    assert repo.git("config", "--local", "user.name").strip() == "The User"
    # Stomper's next git command on the shadow already put its config back.
    assert (shadow / "config").read_bytes() == shadow_config
    await create_snapshot(repo.root)
    assert (shadow / "config").read_bytes() == shadow_config


async def test_the_users_git_dir_never_gets_worktree_metadata_during_a_run(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({f"pkg/m{i}.py": f"v = {i}\n" for i in range(10)})
    snapshot = await create_snapshot(repo.root)
    watched = repo.root / ".git" / "worktrees"
    seen: list[bool] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen.append(watched.exists())
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    async with WorktreePool(snapshot, 3) as pool:

        async def work(k: int) -> None:
            async with pool.lease() as sandbox:
                (sandbox.path / "pkg" / f"m{k}.py").write_text("edited\n")
                assert sandbox.path.is_dir()
                await asyncio.sleep(0.02)

        await asyncio.gather(*(work(k) for k in range(6)))
        assert len(list((snapshot.shadow_dir / "worktrees").iterdir())) == 3
    done.set()
    await watcher

    assert len(seen) > 5 and not any(seen)


_CONCURRENT_SNAPSHOT = """
import asyncio, sys, time
from pathlib import Path
from stomper_lsp.sandbox import create_snapshot

go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
snapshot = asyncio.run(create_snapshot(Path(sys.argv[1]), {"a.py": "a = 2\\n"}))
print(snapshot.commit, snapshot.shadow_dir, sep="\\n", flush=True)
"""


async def test_two_processes_creating_the_shadow_at_once_both_succeed(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_SNAPSHOT, str(repo.root), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.3)  # both are importing and then polling for the start signal
    go.touch()
    outputs = [child.communicate(timeout=60) for child in children]

    assert [child.returncode for child in children] == [0, 0], outputs
    (commit_a, shadow_a), (commit_b, shadow_b) = (out.splitlines() for out, _ in outputs)
    assert shadow_a == shadow_b
    shadow = Path(shadow_a)
    assert object_exists(shadow, commit_a) and object_exists(shadow, commit_b)
    assert sorted(p.name for p in shadow.parent.iterdir()) == ["shadow.git"]


async def test_concurrent_snapshots_in_one_process_share_one_new_shadow(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})

    snapshots = await asyncio.gather(
        *(create_snapshot(repo.root, {"a.py": f"a = {k}\n"}) for k in range(4))
    )

    shadow = snapshots[0].shadow_dir
    assert {s.shadow_dir for s in snapshots} == {shadow}
    assert sorted(p.name for p in shadow.parent.iterdir()) == ["shadow.git"]
    texts = [await read_snapshot_files(s, ["a.py"]) for s in snapshots]
    assert texts == [{"a.py": f"a = {k}\n"} for k in range(4)]


async def test_the_guard_spares_another_tasks_write_in_flight_only(
    new_repo: RepoFactory,
) -> None:
    """Concurrent snapshots: one task's restore deleted another's temporary file between its
    write and its rename (that rename then failed)."""
    repo = new_repo({"a.py": "a = 1\n"})
    shadow = (await create_snapshot(repo.root)).shadow_dir
    info = shadow / "info"
    (info / ".stomper-inflight").write_bytes(b"*.py\n")
    stale = info / ".stomper-stale"
    stale.write_bytes(b"*.py\n")
    old = time.time() - 120
    os.utime(stale, (old, old))
    (info / "attributes").write_bytes(b"*.py filter=evil\n")

    repaired = shadow_guard.restore(shadow)

    assert (info / ".stomper-inflight").exists()
    assert not stale.exists() and not (info / "attributes").exists()
    assert {"info/.stomper-stale", "info/attributes"} <= set(repaired)


async def test_a_repository_borrowing_objects_shares_them_with_the_shadow(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    origin = new_repo({"lib/big.py": "data = 1\n", "app.py": "x = 1\n"}, name="origin")
    borrower = tmp_path / "borrower"
    git(tmp_path, "clone", "-q", "--shared", str(origin.root), str(borrower))
    (borrower / "app.py").write_text("x = 2\n")

    snapshot = await create_snapshot(borrower)

    alternates = (snapshot.shadow_dir / "objects" / "info" / "alternates").read_text()
    assert alternates.splitlines() == [
        str((borrower / ".git" / "objects").resolve()),
        str((origin.root / ".git" / "objects").resolve()),
    ]
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        assert (sandbox.path / "lib" / "big.py").read_text() == "data = 1\n"
        assert (sandbox.path / "app.py").read_text() == "x = 2\n"


async def test_a_shallow_clone_keeps_its_history_walkable_in_sandboxes(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    origin = new_repo({"a.py": "a = 1\n"}, name="origin")
    origin.write("a.py", "a = 2\n")
    origin.commit("second")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin.root}", str(shallow))

    snapshot = await create_snapshot(shallow, {"a.py": "a = 3\n"})

    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        log = agent_git(sandbox.path, "log", "--format=%s").stdout.split("\n")
        assert log[:2] == [f"Stomper snapshot of {shallow.resolve()}", "second"]
        assert (sandbox.path / "a.py").read_text() == "a = 3\n"


async def test_the_shadow_checks_out_and_ignores_like_the_users_repository(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"notes.txt": "one\ntwo\n", "a.py": "a = 1\n"})
    repo.git("config", "core.autocrlf", "true")  # repo-local: the shadow must mirror it
    (repo.root / ".git" / "info").mkdir(exist_ok=True)
    (repo.root / ".git" / "info" / "exclude").write_text("*.generated\n")
    repo.write("skip.generated", "not source\n")

    snapshot = await create_snapshot(repo.root)

    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        on_disk = (sandbox.path / "notes.txt").read_bytes()
        assert on_disk == b"one\r\ntwo\r\n"
        texts = await read_snapshot_files(snapshot, ["notes.txt", "skip.generated"])
        assert texts == {"notes.txt": on_disk.decode(), "skip.generated": None}
        (sandbox.path / "cache.generated").write_text("written by a checker\n")
        (sandbox.path / "a.py").write_text("a = 2\n")
        assert (await sandbox.changes()).changed == ["a.py"]


def test_mirrored_settings_are_quoted_as_git_reads_them(tmp_path: Path) -> None:
    config = tmp_path / "config"
    settings: list[tuple[str, str | None]] = [
        ("core.autocrlf", "input"),
        ("filter.my.odd name.smudge", 'say "hi" \\ there\n'),
        ("filter.my.odd name.required", None),
    ]
    config.write_bytes(render_settings(settings))

    listing = subprocess.run(
        ["git", "config", "--file", str(config), "--list", "-z"], capture_output=True,
        text=True, check=True,
    ).stdout

    assert listing.split("\0")[:-1] == [
        "core.autocrlf\ninput",
        'filter.my.odd name.smudge\nsay "hi" \\ there\n',
        "filter.my.odd name.required",
    ]


async def test_a_sha256_repository_gets_a_sha256_shadow(tmp_path: Path) -> None:
    root = tmp_path / "sha256 repo"
    root.mkdir()
    git(root, "init", "-q", "--object-format=sha256")
    (root / "a.py").write_text("a = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")

    snapshot = await create_snapshot(root, {"a.py": "a = 2\n"})

    assert len(snapshot.commit) == 64
    async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
        assert (sandbox.path / "a.py").read_text() == "a = 2\n"


async def test_the_run_pin_keeps_the_snapshot_through_an_agents_gc(
    new_repo: RepoFactory,
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    snapshot = await create_snapshot(repo.root, {"a.py": "a = 2\n"})
    shadow = snapshot.shadow_dir

    async with WorktreePool(snapshot, 1, run_id="pinned-run") as pool:
        assert stomper_refs(shadow) == ["refs/stomper/pinned-run"]
        assert shadow_git(shadow, "rev-parse", "refs/stomper/pinned-run").strip() == (
            snapshot.commit
        )
        shadow_git(shadow, "gc", "--quiet", "--prune=now")  # before any worktree exists
        async with pool.lease() as sandbox:
            assert (sandbox.path / "a.py").read_text() == "a = 2\n"
    assert stomper_refs(shadow) == []


async def test_a_damaged_shadow_is_replaced(new_repo: RepoFactory) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    shadow = (await create_snapshot(repo.root)).shadow_dir
    (shadow / "HEAD").unlink()  # a temp cleaner took part of it

    snapshot = await create_snapshot(repo.root, {"a.py": "a = 2\n"})

    assert snapshot.shadow_dir == shadow
    assert await read_snapshot_files(snapshot, ["a.py"]) == {"a.py": "a = 2\n"}
    assert sorted(p.name for p in shadow.parent.iterdir()) == ["shadow.git"]


@pytest.mark.slow
async def test_projects_with_submodules_or_inside_one_do_not_crash(
    new_repo: RepoFactory, tmp_path: Path
) -> None:
    library = new_repo({"lib.py": "v = 1\n"}, name="library")
    outer = new_repo({"main.py": "m = 1\n"}, name="outer")
    outer.git("-c", "protocol.file.allow=always", "submodule", "add", "-q",
              str(library.root), "vendor/lib")
    outer.commit("with a submodule")
    (outer.root / "vendor" / "lib" / "lib.py").write_text("v = 2  # edited inside\n")
    before = outer.state()

    for project in (outer.root, outer.root / "vendor" / "lib"):
        snapshot = await create_snapshot(project)
        async with WorktreePool(snapshot, 1) as pool, pool.lease() as sandbox:
            assert (await sandbox.changes()).changed == []
            if project == outer.root:
                assert (sandbox.path / "main.py").read_text() == "m = 1\n"
            else:
                assert (sandbox.path / "lib.py").read_text() == "v = 2  # edited inside\n"
    assert outer.state() == before  # .git/modules (the submodule's repository) included


async def test_a_shadow_inside_the_repository_is_refused(new_repo: RepoFactory) -> None:
    repo = new_repo({"a.py": "a = 1\n"})

    with pytest.raises(SandboxError, match="inside the repository"):
        await create_snapshot(repo.root, base_dir=repo.root / ".stomper")

    assert not (repo.root / ".stomper").exists()
