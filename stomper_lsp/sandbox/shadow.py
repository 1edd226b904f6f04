"""The Stomper-owned repository that snapshots and sandboxes write into.

Agents run whatever git commands they like in their sandbox: stash, branch, tag, config,
commit, gc. Were sandboxes worktrees of the user's repository, all of that would land in
the user's `.git` (worktrees share refs, stash and config). So each user repository gets
a bare shadow repository outside the workspace, `<base>/<repo hash>/shadow.git`, that
borrows every object of the user's through `objects/info/alternates` (nothing is copied)
and receives the snapshot's new objects, the worktrees' metadata and whatever agents do.

The shadow mirrors what, in the user's repository, decides the bytes a checkout writes and
what counts as ignored: repo-local eol and filter settings, `info/exclude`,
`info/attributes` (and `shallow`, so history walks stop where the user's do). It is brought
up to date before every snapshot, which also undoes any `git config` an agent ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from pathlib import Path

from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git
from stomper_lsp.sandbox.layout import (
    CREATING_SUFFIX,
    SANDBOX_DIR_ENV,
    SHADOW_DIR_NAME,
    ensure_outside_workspace,
    prepare_repo_dir,
    remove_tree,
    sandbox_base_dir,
    write_if_changed,
)
from stomper_lsp.sandbox.repository import RepositoryLocation
from stomper_lsp.sandbox.shadow_guard import remember

__all__ = ["is_shadow", "objects_env", "open_shadow", "render_settings"]

# `git init`'s own config, kept so the live config can be rebuilt from it at every open.
_BASE_CONFIG = "stomper-base.config"
_MIRRORED_FILES = ("info/exclude", "info/attributes", "shallow")
# The user's settings that change checkout bytes or ignore rules, from every scope: git on
# the shadow reads no global or system file (an agent could have written one), so the
# user's own global eol or filter settings reach the shadow only through this mirror.
_MIRRORED_KEYS = frozenset(
    {
        "core.autocrlf", "core.eol", "core.safecrlf", "core.checkroundtripencoding",
        "core.attributesfile", "core.excludesfile",
    }
)
_MIRRORED_SECTIONS = ("filter.",)
_PATH_KEYS = frozenset({"core.attributesfile", "core.excludesfile"})
_MIRRORED_SCOPES = frozenset({b"system", b"global", b"local", b"worktree"})
# What `git init --bare` writes that a shadow needs; anything else in the base config file
# (an agent may have edited it) is dropped when the live config is rebuilt.
_BASE_KEYS = frozenset(
    {"core.repositoryformatversion", "core.filemode", "core.bare", "extensions.objectformat"}
)
_MIRROR_HEADER = b"\n# Mirrored from the user's repository by Stomper before every snapshot.\n"

Setting = tuple[str, str | None]
"""(key as `git config --list` prints it, value; None for a bare boolean key)."""


def is_shadow(path: Path) -> bool:
    """Whether `path` is a complete shadow (creation renames a finished one into place)."""
    return (
        (path / "HEAD").is_file()
        and (path / "objects").is_dir()
        and (path / _BASE_CONFIG).is_file()
    )


def objects_env(shadow: Path) -> dict[str, str]:
    """Environment that makes git write new objects into the shadow, not the user's store.

    git reads `<object dir>/info/alternates`, so the user's objects stay readable.
    """
    return {"GIT_OBJECT_DIRECTORY": str(shadow / "objects")}


async def open_shadow(location: RepositoryLocation, base_dir: Path | None = None) -> Path:
    """The shadow of `location`'s repository, created on first use, synced with the user's."""
    base = sandbox_base_dir(base_dir)
    ensure_outside_workspace(base, location.repo_root)
    repo_dir = await asyncio.to_thread(prepare_repo_dir, base, location.repo_root)
    shadow = repo_dir / SHADOW_DIR_NAME
    try:
        if not await asyncio.to_thread(is_shadow, shadow):
            await _create(shadow, location.object_format)
        settings = await _user_settings(location.repo_root)
        own = await _base_settings(shadow)
        await asyncio.to_thread(_sync_with_user, shadow, location, own, settings)
        await asyncio.to_thread(remember, shadow)
    except OSError as exc:
        raise SandboxError(
            f"Cannot set up Stomper's shadow repository {shadow}: {exc}. Set "
            f"{SANDBOX_DIR_ENV} to a writable folder outside the repository."
        ) from exc
    return shadow


async def create_bare_shadow(shadow: Path, object_format: str) -> None:
    """A new, empty shadow at `shadow` (a cluster node's copy starts so: see
    node_repository.py); a shadow already there is kept."""
    await _create(shadow, object_format)


async def _create(shadow: Path, object_format: str) -> None:
    """Build a bare repository in a staging folder and rename it into place: another
    Stomper process creating the same shadow at the same moment either wins the rename or
    finds a complete shadow there."""
    staging = shadow.parent / f".shadow-{uuid.uuid4().hex[:12]}{CREATING_SUFFIX}"
    init = ["init", "--bare", "--quiet", "--template="]  # no sample hooks, no description
    if object_format != "sha1":
        init.append(f"--object-format={object_format}")
    try:
        await run_git(shadow.parent, [*init, str(staging)])
        await asyncio.to_thread(_install, staging, shadow)
    finally:
        await asyncio.to_thread(remove_tree, staging)  # gone already after a rename


def _install(staging: Path, shadow: Path) -> None:
    (staging / "info").mkdir(exist_ok=True)
    shutil.copyfile(staging / "config", staging / _BASE_CONFIG)
    for _ in range(3):
        try:
            staging.rename(shadow)
            return
        except OSError:
            if is_shadow(shadow):
                return  # another process made it first
            _discard(shadow)  # a damaged leftover (a temp cleaner took part of it)
    raise SandboxError(f"Cannot create Stomper's shadow repository {shadow}.")


def _discard(path: Path) -> None:
    """Move a broken shadow aside in one rename, then delete it."""
    aside = path.parent / f".shadow-{uuid.uuid4().hex[:12]}{CREATING_SUFFIX}"
    try:
        path.rename(aside)
    except FileNotFoundError:
        return
    except OSError:
        remove_tree(path)
        return
    remove_tree(aside)


async def _user_settings(repo_root: Path) -> list[Setting]:
    result = await run_git(repo_root, ["config", "--list", "--show-scope", "-z"], check=False)
    if result.returncode != 0 or result.timed_out:
        return []  # an unreadable config makes the snapshot fail with git's own words
    items = result.stdout.split(b"\0")
    settings: list[Setting] = []
    for scope, entry in zip(items[0::2], items[1::2], strict=False):
        if scope not in _MIRRORED_SCOPES:
            continue
        raw_key, newline, raw_value = entry.partition(b"\n")
        key = os.fsdecode(raw_key)
        if key not in _MIRRORED_KEYS and not key.startswith(_MIRRORED_SECTIONS):
            continue
        value = os.fsdecode(raw_value) if newline else None
        if key in _PATH_KEYS and value and not value.startswith("~"):
            value = str(repo_root / value)  # git reads it relative to the top level
        settings.append((key, value))
    return settings


async def _base_settings(shadow: Path) -> list[Setting]:
    """The shadow's own `git init` settings, keeping only the keys a shadow needs."""
    result = await run_git(
        shadow.parent,
        ["config", "--file", str(shadow / _BASE_CONFIG), "--list", "-z"],
        check=False,
    )
    settings: list[Setting] = []
    for entry in result.stdout.split(b"\0"):
        raw_key, newline, raw_value = entry.partition(b"\n")
        key = os.fsdecode(raw_key)
        if key in _BASE_KEYS:
            settings.append((key, os.fsdecode(raw_value) if newline else None))
    if not any(key == "core.bare" for key, _ in settings):
        settings = [("core.repositoryformatversion", "0"), ("core.bare", "true"), *settings]
    return settings


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def render_settings(settings: list[Setting]) -> bytes:
    """Settings as git config file text, grouped under their section headers."""
    lines: list[str] = []
    current = ""
    for key, value in settings:
        section, _, rest = key.partition(".")
        subsection, _, name = rest.rpartition(".")
        header = f"[{section} {_quote(subsection)}]" if subsection else f"[{section}]"
        if header != current:
            lines.append(header)
            current = header
        lines.append(f"\t{name}" if value is None else f"\t{name} = {_quote(value)}")
    return "".join(f"{line}\n" for line in lines).encode("utf-8", errors="surrogateescape")


def _alternates(location: RepositoryLocation) -> bytes:
    """The user's object store plus its own alternates (`git clone --shared`), absolute."""
    objects = location.objects_dir
    entries = [str(objects)]
    try:
        listed = (objects / "info" / "alternates").read_bytes().splitlines()
    except OSError:
        listed = []
    for raw in listed:
        if not raw.strip() or raw.startswith(b"#"):
            continue
        if raw.startswith(b'"'):
            entries.append(os.fsdecode(raw))  # already C-quoted by whoever wrote it
            continue
        entries.append(os.path.normpath(objects / os.fsdecode(raw)))
    lines = [_quote(entry) if "\n" in entry else entry for entry in dict.fromkeys(entries)]
    return "".join(f"{line}\n" for line in lines).encode("utf-8", errors="surrogateescape")


def _sync_with_user(
    shadow: Path, location: RepositoryLocation, base: list[Setting], settings: list[Setting]
) -> None:
    write_if_changed(shadow / "objects" / "info" / "alternates", _alternates(location))
    mirrored = render_settings(settings)
    write_if_changed(
        shadow / "config",
        render_settings(base) + (_MIRROR_HEADER + mirrored if mirrored else b""),
    )
    for name in _MIRRORED_FILES:
        source = location.git_common_dir / name
        target = shadow / name
        try:
            data = source.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        write_if_changed(target, data)



