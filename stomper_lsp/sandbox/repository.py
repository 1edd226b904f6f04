"""Finding the user's git repository around a project folder (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git

_NOT_A_REPO_ADVICE = (
    "Stomper fixes files in git worktrees, so the project must be inside a git repository: "
    "run `git init` in {root} (a first commit is not needed), or use `stomper check` to only "
    "list the issues."
)


@dataclass(frozen=True)
class RepositoryLocation:
    repo_root: Path
    git_common_dir: Path
    index_file: Path
    project_prefix: str
    object_format: str = "sha1"
    """The shadow repository must hash objects the same way (`sha1` or `sha256`)."""

    @property
    def objects_dir(self) -> Path:
        return self.git_common_dir / "objects"


async def locate_repository(project_root: Path) -> RepositoryLocation:
    """The repository around `project_root`; SandboxError saying what to do if none."""
    if not project_root.is_dir():
        raise SandboxError(f"The project folder {project_root} does not exist.")
    result = await run_git(
        project_root,
        [
            "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir",
            "--git-path", "index", "--show-prefix", "--show-object-format",
        ],
        check=False,
    )
    lines = result.stdout.decode("utf-8", errors="surrogateescape").split("\n")
    if result.returncode != 0 or result.timed_out or len(lines) < 5:
        said = result.stderr_text.strip()
        said = f" (git said: {said})" if said else ""
        raise SandboxError(
            f"{project_root} is not inside a git work tree{said}. "
            + _NOT_A_REPO_ADVICE.format(root=project_root)
        )
    return RepositoryLocation(
        repo_root=Path(lines[0]).resolve(),
        git_common_dir=Path(lines[1]).resolve(),
        index_file=Path(lines[2]),
        project_prefix=lines[3].strip("/"),
        object_format=lines[4].strip() or "sha1",
    )
