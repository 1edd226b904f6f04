"""Where sandboxes live on disk, and who owns them.

Layout: `<base>/<short hash of the repository path>/<run id>/<one folder per slot>`, with
`<run dir>/owner.json` naming the owning process so a later sweep can tell a live run from
a crashed one, and `<base>/<hash>/shadow.git`, the Stomper-owned repository the worktrees
belong to (see shadow.py). The base is outside every workspace (editors, file watchers and
ruff would otherwise index the sandboxes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stomper_lsp.sandbox.errors import SandboxError

SANDBOX_DIR_ENV = "STOMPER_SANDBOX_DIR"
OWNER_FILE = "owner.json"
CREATING_SUFFIX = ".creating"
SHADOW_DIR_NAME = "shadow.git"


BASE_NAME = "stomper-sandboxes"


def default_base_dir() -> Path:
    return Path(tempfile.gettempdir()) / BASE_NAME


def ram_base_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """RAM-backed places sandboxes may go (see placement.py), the user's private one first."""
    env = os.environ if environ is None else environ
    found: list[Path] = []
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute():
        found.append(Path(runtime) / BASE_NAME)
    found.append(Path("/dev/shm") / BASE_NAME)
    return found


def configured_base_dir() -> Path | None:
    """$STOMPER_SANDBOX_DIR, when the user set it."""
    configured = os.environ.get(SANDBOX_DIR_ENV)
    return Path(configured).resolve() if configured else None


def sandbox_base_dir(base_dir: Path | None = None) -> Path:
    """`base_dir`, else $STOMPER_SANDBOX_DIR, else `<system temp>/stomper-sandboxes`."""
    if base_dir is not None:
        return Path(base_dir).resolve()
    return configured_base_dir() or default_base_dir().resolve()


def short_hash(path: Path) -> str:
    return hashlib.sha256(os.fsencode(str(path))).hexdigest()[:16]


def repo_sandbox_dir(base: Path, repo_root: Path) -> Path:
    return base / short_hash(repo_root)


def shadow_dir_for(base: Path, repo_root: Path) -> Path:
    return repo_sandbox_dir(base, repo_root) / SHADOW_DIR_NAME


def _locks_dir(base: Path) -> Path:
    user = f"-{os.getuid()}" if hasattr(os, "getuid") else ""
    return base / f".locks{user}"


def lock_file_for(base: Path, git_common_dir: Path) -> Path:
    """One lock file per repository, shared by this user's Stomper processes."""
    return _locks_dir(base) / f"{short_hash(git_common_dir)}.lock"


def shadow_lock_file(shadow_dir: Path) -> Path:
    """The lock for a shadow's worktree metadata, found from the shadow alone: every
    process using the shadow agrees on it whatever sandbox folder its pool uses."""
    return lock_file_for(shadow_dir.parent.parent, shadow_dir)


def ensure_outside_workspace(base: Path, repo_root: Path) -> None:
    if base == repo_root or base.is_relative_to(repo_root):
        raise SandboxError(
            f"The sandbox folder {base} is inside the repository {repo_root}; editors, file "
            f"watchers and ruff would index the sandboxes. Point {SANDBOX_DIR_ENV} at a "
            "folder outside the repository."
        )


def _is_shared_folder(folder: Path) -> bool:
    """World-writable with the sticky bit, like /tmp and /dev/shm."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_ISVTX and mode & stat.S_IWOTH)


def prepare_repo_dir(base: Path, repo_root: Path) -> Path:
    """Create `<base>/<hash>` private to this user; refuse one another user planted."""
    if not base.exists() and _is_shared_folder(base.parent):
        with contextlib.suppress(FileExistsError):
            base.mkdir()
            base.chmod(0o1777)  # shared like /tmp: every user gets a private folder inside
    repo_dir = repo_sandbox_dir(base, repo_root)
    try:
        repo_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _locks_dir(base).mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SandboxError(
            f"Cannot create the sandbox folder {repo_dir}: {exc}. Set {SANDBOX_DIR_ENV} to a "
            "writable folder outside the repository."
        ) from exc
    if hasattr(os, "getuid") and repo_dir.stat().st_uid != os.getuid():
        raise SandboxError(
            f"The sandbox folder {repo_dir} belongs to another user. Set {SANDBOX_DIR_ENV} "
            "to a folder of your own outside the repository."
        )
    return repo_dir


@dataclass(frozen=True)
class OwnerRecord:
    pid: int
    start_ticks: int | None
    """Kernel start time of the process: a recycled pid does not pass for the owner."""
    host: str
    repo_root: str
    created_at: float

    @classmethod
    def for_this_process(cls, repo_root: Path) -> OwnerRecord:
        pid = os.getpid()
        return cls(pid, _start_ticks(pid), socket.gethostname(), str(repo_root), time.time())


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (Linux); None where that does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def create_run_dir(repo_dir: Path, run_id: str, owner: OwnerRecord) -> Path:
    """Create the run folder with its owner file in one rename, so no sweep sees it ownerless."""
    if (
        not run_id
        or run_id.startswith(".")
        or "/" in run_id
        or os.sep in run_id
        or run_id == SHADOW_DIR_NAME
    ):
        raise SandboxError(f"Invalid sandbox run id {run_id!r}.")
    run_dir = repo_dir / run_id
    staging = repo_dir / f".{run_id}{CREATING_SUFFIX}"
    staging.mkdir(mode=0o700)
    (staging / OWNER_FILE).write_text(json.dumps(asdict(owner)), encoding="utf-8")
    try:
        staging.rename(run_dir)
    except OSError as exc:
        remove_tree(staging)
        raise SandboxError(f"Cannot create the sandbox run folder {run_dir}: {exc}") from exc
    return run_dir


def read_owner(run_dir: Path) -> OwnerRecord | None:
    try:
        data: Any = json.loads((run_dir / OWNER_FILE).read_text(encoding="utf-8"))
        return OwnerRecord(
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]) if data.get("start_ticks") is not None else None,
            host=str(data["host"]),
            repo_root=str(data["repo_root"]),
            created_at=float(data["created_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def owner_alive(owner: OwnerRecord) -> bool:
    """Whether the run's process may still be using its sandboxes (unsure counts as alive)."""
    if owner.host != socket.gethostname():
        return True  # a shared temp folder: we cannot see that machine's processes
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else
    if owner.start_ticks is not None:
        current = _start_ticks(owner.pid)
        if current is not None and current != owner.start_ticks:
            return False  # the pid was recycled by an unrelated process
    return True


def remove_tree(path: Path) -> None:
    """Delete `path` whatever an agent did to it (read-only folders included), never
    following a symlink out of it."""
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError:
        _grant_owner_access(path)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)


def _grant_owner_access(root: Path) -> None:
    def allow(folder: str) -> None:
        with contextlib.suppress(OSError):
            os.chmod(folder, os.stat(folder).st_mode | stat.S_IRWXU)

    allow(str(root))
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):
                allow(child)


TEMPORARY_PREFIX = ".stomper-"
"""`replace_file`'s temporary files, beside their target until the rename."""


def replace_file(path: Path, data: bytes) -> None:
    """Replace `path` in one rename, so concurrent readers and writers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_if_changed(path: Path, data: bytes) -> None:
    """Replace `path` (in one rename) unless it already holds `data`."""
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    replace_file(path, data)
