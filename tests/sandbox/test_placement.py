from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from stomper_lsp.project import Project
from stomper_lsp.sandbox import placement
from stomper_lsp.sandbox.layout import BASE_NAME, prepare_repo_dir
from stomper_lsp.sandbox.placement import Room, checkout_bytes, choose_base_dir, fits, room_at
from stomper_lsp.sandbox.repository import locate_repository
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus
from tests.sandbox.conftest import RepoFactory, shadow_worktrees
from tests.sandbox.test_sweep import crash_a_run

GIB = 1 << 30
RAM = Room("tmpfs", free_bytes=4 * GIB, writable=True, executable=True)


@pytest.mark.parametrize(
    ("room", "needed", "memory", "expected"),
    [
        (RAM, GIB, 8 * GIB, True),
        (RAM, 3 * GIB, 16 * GIB, False),  # more than half the file system's free space
        (RAM, GIB, 2 * GIB, False),  # more than a quarter of the available memory
        (RAM, 1, None, False),  # memory unknown: do not gamble with it
        (Room("ext4", 4 * GIB, True, True), 1, 8 * GIB, False),
        (Room("tmpfs", 4 * GIB, True, executable=False), 1, 8 * GIB, False),  # noexec
        (Room("tmpfs", 4 * GIB, writable=False, executable=True), 1, 8 * GIB, False),
    ],
)
def test_a_ram_folder_is_used_only_when_it_holds_the_run_with_room_to_spare(
    room: Room, needed: int, memory: int | None, expected: bool
) -> None:
    assert fits(room, needed, memory) is expected


def test_the_deepest_mount_decides_the_file_system() -> None:
    mounts = (
        "/dev/vda / ext4 rw 0 0\n"
        "tmpfs /dev/shm tmpfs rw,nosuid 0 0\n"
        "tmpfs /run/user/1000 tmpfs rw 0 0\n"
        "tmpfs /mnt/my\\040disk tmpfs rw 0 0\n"
    )
    assert placement._mount_of(Path("/dev/shm/stomper-sandboxes"), mounts) == (
        "/dev/shm", "tmpfs",
    )
    assert placement._mount_of(Path("/dev/shmx"), mounts) == ("/", "ext4")
    assert placement._mount_of(Path("/mnt/my disk/x"), mounts) == ("/mnt/my disk", "tmpfs")


def test_room_is_read_from_the_nearest_existing_folder(tmp_path: Path) -> None:
    room = room_at(tmp_path / "not" / "yet")
    assert room is not None
    assert room.writable and room.free_bytes > 0
    assert room.file_system


async def test_checkout_size_comes_from_the_index_page_rounded(new_repo: RepoFactory) -> None:
    small = new_repo({"a.py": "a = 1\n"}, name="small")
    bigger = new_repo({"a.py": "a = 1\n", "b.py": "x" * 5000, "c/d.py": ""}, name="bigger")

    one = await checkout_bytes(await locate_repository(small.root))
    three = await checkout_bytes(await locate_repository(bigger.root))

    assert one >= 4096  # a small file still takes a page in memory
    assert 4096 * 2 < three - one < 4096 * 3  # b.py takes two pages, the empty c/d.py none
    assert three < 64 * 1024


async def test_sandboxes_go_to_memory_when_it_has_room_and_to_temp_otherwise(
    new_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo({"a.py": "a = 1\n"})
    location = await locate_repository(repo.root)
    ram, temp = tmp_path / "ram" / BASE_NAME, tmp_path / "temp" / BASE_NAME
    monkeypatch.delenv("STOMPER_SANDBOX_DIR")
    monkeypatch.setattr(placement, "ram_base_dirs", lambda: [ram])
    monkeypatch.setattr(placement, "default_base_dir", lambda: temp)
    size = await checkout_bytes(location)

    def rooms(free: int) -> Callable[[Path], Room | None]:
        return lambda path: Room("tmpfs", free, True, True) if path == ram else None

    assert await choose_base_dir(location, 2, room=rooms(GIB), memory=lambda: 8 * GIB) == ram
    # Four slots do not fit in a file system with room for three checkouts x 2:
    tight = rooms(size * 7)
    assert await choose_base_dir(location, 3, room=tight, memory=lambda: 8 * GIB) == ram
    assert await choose_base_dir(location, 4, room=tight, memory=lambda: 8 * GIB) == temp
    assert await choose_base_dir(location, 1, room=lambda _: None, memory=lambda: GIB) == temp

    unstaged = new_repo({"big.py": "x = 1\n"}, name="unstaged", commit=False)
    unknown = await locate_repository(unstaged.root)
    assert await choose_base_dir(unknown, 1, room=rooms(GIB), memory=lambda: 8 * GIB) == temp

    monkeypatch.setenv("STOMPER_SANDBOX_DIR", str(tmp_path / "mine"))
    chosen = await choose_base_dir(location, 1, room=rooms(GIB), memory=lambda: 8 * GIB)
    assert chosen == tmp_path / "mine"


def test_a_base_made_in_a_shared_folder_is_shared_like_it(
    tmp_path: Path, new_repo: RepoFactory
) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    private.mkdir(mode=0o700)
    repo = new_repo({"a.py": "a = 1\n"})

    prepare_repo_dir(shared / BASE_NAME, repo.root)
    prepare_repo_dir(private / BASE_NAME, repo.root)

    assert stat.S_IMODE((shared / BASE_NAME).stat().st_mode) == 0o1777
    assert not (private / BASE_NAME).stat().st_mode & stat.S_IWOTH
    repo_dirs = [*(shared / BASE_NAME).iterdir(), *(private / BASE_NAME).iterdir()]
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o700 for d in repo_dirs if d.name[0] != ".")


@pytest.mark.skipif(placement.available_memory() is None, reason="needs /proc/meminfo")
async def test_a_run_in_memory_sweeps_what_a_crashed_run_left_in_temp(
    new_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo({"pyproject.toml": '[tool.ruff.lint]\nselect = ["F401"]\n',
                     "a.py": "import os\n"})
    ram, temp = tmp_path / "ram" / BASE_NAME, tmp_path / "temp" / BASE_NAME
    ram.parent.mkdir()
    monkeypatch.setenv("STOMPER_SANDBOX_DIR", str(temp))  # what the crashed run used
    dead_run, _ = crash_a_run(repo, temp)
    monkeypatch.delenv("STOMPER_SANDBOX_DIR")
    monkeypatch.setattr(placement, "ram_base_dirs", lambda: [ram])
    monkeypatch.setattr(placement, "default_base_dir", lambda: temp)
    monkeypatch.setattr(
        placement, "room_at",
        lambda path: Room("tmpfs", 4 * GIB, True, True) if path == ram else None,
    )
    project = Project.load(repo.root, overrides={"tools": ["ruff"]}, read_user_file=False)

    report = await run_fix(project)

    assert [o.status for o in report.files] == [FileStatus.FIXED]
    assert not dead_run.exists()
    assert shadow_worktrees(repo.shadow(temp)) == []
    assert (repo.shadow(ram) / "HEAD").is_file()  # this run's shadow lives in memory
    assert shadow_worktrees(repo.shadow(ram)) == []
    assert os.listdir(ram / repo.shadow(ram).parent.name) == ["shadow.git"]
