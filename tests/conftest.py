"""Session-wide test environment: git identity and a private user config for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point Stomper's user config and git's global config at empty per-test files."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    saved = {k: os.environ.get(k) for k in ("STOMPER_CONFIG", "GIT_CONFIG_GLOBAL")}
    os.environ["STOMPER_CONFIG"] = str(Path(home) / "stomper.toml")
    os.environ["GIT_CONFIG_GLOBAL"] = str(gitconfig)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
