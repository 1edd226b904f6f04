"""Session-wide test environment: git identity and a private user config for every test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stomper_lsp.confinement import detect_support
from tests.workflow.repos import RUFF_ONLY, git, worktrees

# Tests make real commits; CI machines have no git identity, and the developer's own global
# git config (hooks, signing) must not leak into them.
os.environ.update(
    {
        "GIT_AUTHOR_NAME": "Stomper Tests",
        "GIT_AUTHOR_EMAIL": "tests@stomper.invalid",
        "GIT_COMMITTER_NAME": "Stomper Tests",
        "GIT_COMMITTER_EMAIL": "tests@stomper.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
)


SUPPORT = asyncio.run(detect_support())
# Where agents cannot be confined (no bubblewrap, no Landlock: some containers), fix runs
# would all refuse to start; the suite then runs them unconfined by the user's choice, and
# tests/confinement proves the detection path instead.
UNCONFINED_MACHINE = not (SUPPORT.bwrap or SUPPORT.landlock)


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point Stomper's user config and git's global config at per-test files (empty, or
    opting in to unconfined agents on a machine that cannot confine them)."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    saved = {k: os.environ.get(k) for k in ("STOMPER_CONFIG", "GIT_CONFIG_GLOBAL")}
    os.environ["STOMPER_CONFIG"] = str(Path(home) / "stomper.toml")
    if UNCONFINED_MACHINE:
        Path(home, "stomper.toml").write_text("allow_unconfined = true\n", encoding="utf-8")
    os.environ["GIT_CONFIG_GLOBAL"] = str(gitconfig)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def sandbox_base(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path_factory.mktemp("sandboxes")
    monkeypatch.setenv("STOMPER_SANDBOX_DIR", str(base))
    monkeypatch.setenv("STOMPER_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
    monkeypatch.setenv("STOMPER_OUTCOME_DB", str(tmp_path_factory.mktemp("state") / "o.db"))
    return base


@pytest.fixture
def agent_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside every project that confined agents may write (their counters, pid
    files): named in the per-test user config as `agent_writable_dirs`."""
    folder = tmp_path_factory.mktemp("agent-out")
    with Path(os.environ["STOMPER_CONFIG"]).open("a", encoding="utf-8") as config:
        config.write(f"agent_writable_dirs = [{str(folder)!r}]\n")
    return folder


@pytest.fixture
def real_pids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents confined by Landlock alone, so the pids they record are the host's (inside
    bubblewrap's PID namespace they would be the namespace's); without Landlock, unconfined."""
    if SUPPORT.landlock:
        monkeypatch.setenv("STOMPER_CONFINEMENT", "landlock")
        return
    monkeypatch.setenv("STOMPER_CONFINEMENT", "none")
    if not UNCONFINED_MACHINE:  # there the user config opts in already
        with Path(os.environ["STOMPER_CONFIG"]).open("a", encoding="utf-8") as config:
            config.write("allow_unconfined = true\n")


@pytest.fixture
def make_repo(tmp_path: Path, sandbox_base: Path) -> Iterator[Callable[..., Path]]:
    made: list[Path] = []

    def make(files: dict[str, str], name: str = "repo", commit: bool = True) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True)
        files = {"pyproject.toml": RUFF_ONLY, **files}
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        git(root, "init", "-q")
        if commit:
            git(root, "add", "-A")
            git(root, "commit", "-qm", "init")
        made.append(root)
        return root

    yield make
    for root in made:  # no run ever registers a worktree in the user's repository
        assert len(worktrees(root)) == 1, worktrees(root)
    for shadow in sandbox_base.glob("*/shadow.git"):  # and every run removed its sandboxes
        listing = git(shadow, "worktree", "list", "--porcelain").splitlines()
        assert [line for line in listing if line.startswith("worktree ")][1:] == [], listing
