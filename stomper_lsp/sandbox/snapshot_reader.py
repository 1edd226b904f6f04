"""Read a snapshot's files through one long-lived `git cat-file --batch`.

`read_snapshot_files` starts three git processes per call (ls-tree, update-index,
checkout-index) so that eol and filter attributes are applied exactly as a checkout would.
A run's coordinator reads every fixed file's snapshot text that way, and at many files a
second that was most of its CPU. Where nothing can convert a file on checkout (no
`.gitattributes` on its path, no `info/attributes`, no `core.autocrlf=true`, no attributes
file in the config) the blob's bytes are the checkout's bytes, so one running cat-file
answers from the tree objects; every other file still goes the exact way.

A run tells the reader which files it will ask for, in order (`expect`): their blobs are
asked for in batches, one write to git for up to `_READ_AHEAD` files (on a 2-core VM each
write that wakes git cost the coordinator 0.1-0.25 ms of CPU).
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from stomper_lsp.process import Dialogue
from stomper_lsp.sandbox.errors import SandboxError
from stomper_lsp.sandbox.git import run_git_dir, start_git_dialogue
from stomper_lsp.sandbox.snapshot import (
    Snapshot,
    decode_text,
    read_snapshot_files,
    to_repo_path,
)

_READ_TIMEOUT_S = 60.0
_REGULAR = (b"100644", b"100755")
_TREE = b"40000"
_AUTOCRLF_ON = ("true", "1", "yes", "on", "input")
_BLOB_CACHE_BYTES = 8 * 1024 * 1024
_READ_AHEAD = 32


@dataclass(frozen=True)
class SnapshotEntry:
    """One path of the snapshot: a regular `file` (its blob and exec bit), `absent`, or
    `other` (a folder, symlink or submodule, or a path below a non-folder)."""

    kind: Literal["file", "absent", "other"]
    object_id: str = ""
    executable: bool = False


class SnapshotReader:
    """Texts of one snapshot's files, as a checkout writes them; `close()` when done."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._dialogue: Dialogue | None = None
        self._lock = asyncio.Lock()
        self._trees: dict[str, dict[str, tuple[bytes, bytes]] | None] = {}
        self._exact_only: bool | None = None
        self._hash_size = len(snapshot.commit) // 2
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._blob_bytes = 0
        self._expected: deque[str] = deque()

    def expect(self, paths: Sequence[str]) -> None:
        """The project paths `read` will mostly be asked for next, in this order."""
        self._expected = deque(paths)

    async def read(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Like `read_snapshot_files`: None for a path that is absent or not a file."""
        texts: dict[str, str | None] = {}
        exact: list[str] = []
        async with self._lock:
            if self._exact_only is None:
                self._exact_only = await self._conversions_configured()
            for path in paths:
                found = None if self._exact_only else await self._fast(path)
                if found is None:
                    exact.append(path)
                else:
                    texts[path] = found[1] if found[0] else None
        if exact:
            texts.update(await read_snapshot_files(self.snapshot, exact))
        return texts

    async def close(self) -> None:
        if self._dialogue is not None:
            await self._dialogue.close()
            self._dialogue = None

    async def _conversions_configured(self) -> bool:
        """True when git may convert any file between the disk and a blob (then every read
        goes the exact way). `core.autocrlf=input` converts only what git reads from disk,
        which matters to comparing a sandbox's files with blobs."""
        shadow = self.snapshot.shadow_dir
        for attributes in (shadow / "info" / "attributes", _user_attributes()):
            if await asyncio.to_thread(_non_empty, attributes):
                return True
        result = await run_git_dir(
            shadow, ["config", "--get-regexp", r"^core\.(autocrlf|attributesfile)$"], check=False
        )
        for line in result.stdout_text.splitlines():
            key, _, value = line.partition(" ")
            if key == "core.attributesfile" or value.strip().lower() in _AUTOCRLF_ON:
                return True
        return False

    async def entry(self, repo_path: str) -> SnapshotEntry | None:
        """What the snapshot holds at a repository-relative path, read from the trees;
        None when a checkout may convert it (attributes, autocrlf): then only git knows
        the bytes on disk that match it."""
        async with self._lock:
            if self._exact_only is None:
                self._exact_only = await self._conversions_configured()
            if self._exact_only:
                return None
            return await self._entry(repo_path)

    async def blob(self, object_id: str) -> bytes | None:
        """A blob's bytes (recently used ones are kept: a reset asks again for what the
        look after the agent read)."""
        async with self._lock:
            return await self._blob(object_id)

    async def _blob(self, object_id: str, read_ahead: bool = False) -> bytes | None:
        """With `read_ahead`, a miss also fetches the blobs of the next expected files."""
        cached = self._blobs.get(object_id)
        if cached is not None:
            self._blobs.move_to_end(object_id)
            return cached
        ahead = self._next_expected_blobs(object_id) if read_ahead else []
        wanted = [object_id, *ahead]
        found = await self._objects(wanted, b"blob")
        for name, data in zip(wanted, found, strict=True):
            if data is not None:
                self._keep(name, data)
        return found[0]

    def _keep(self, object_id: str, data: bytes) -> None:
        if len(data) > _BLOB_CACHE_BYTES // 8:
            return
        self._blobs[object_id] = data
        self._blob_bytes += len(data)
        while self._blob_bytes > _BLOB_CACHE_BYTES:
            _, dropped = self._blobs.popitem(last=False)
            self._blob_bytes -= len(dropped)

    def _next_expected_blobs(self, asked: str) -> list[str]:
        """Blob ids of the next expected files that the cached trees already name."""
        found: list[str] = []
        while self._expected and len(found) < _READ_AHEAD - 1:
            path = self._expected.popleft()
            entry = self._cached_entry(to_repo_path(self.snapshot.project_prefix, path))
            if entry is None or entry.kind != "file":
                continue
            if entry.object_id != asked and entry.object_id not in self._blobs:
                found.append(entry.object_id)
        return list(dict.fromkeys(found))

    def _cached_entry(self, repo_path: str) -> SnapshotEntry | None:
        """`_entry` from the trees read so far only (None: it would need a tree read)."""
        folder, _, name = repo_path.rpartition("/")
        tree = self._trees.get(folder)
        if tree is None or ".gitattributes" in tree or name not in tree:
            return None
        mode, object_id = tree[name]
        return SnapshotEntry("file", object_id.hex()) if mode in _REGULAR else None

    async def _fast(self, path: str) -> tuple[bool, str] | None:
        """(present, text) read from the trees; None: this path needs the exact way."""
        found = await self._entry(to_repo_path(self.snapshot.project_prefix, path))
        if found is None:
            return None
        if found.kind != "file":
            return (False, "")
        data = await self._blob(found.object_id, read_ahead=True)
        return (True, decode_text(data)) if data is not None else None

    async def _entry(self, repo_path: str) -> SnapshotEntry | None:
        parts = PurePosixPath(repo_path).parts
        if not parts or "\n" in repo_path or repo_path.startswith("/"):
            return None
        folder = ""
        tree = await self._tree("")
        for depth, name in enumerate(parts):
            if tree is None:
                return SnapshotEntry("absent")
            if ".gitattributes" in tree:
                return None  # attributes may convert this file: let checkout decide
            entry = tree.get(name)
            if entry is None:
                return SnapshotEntry("absent")
            mode, object_id = entry
            if depth == len(parts) - 1:
                if mode in _REGULAR:
                    return SnapshotEntry("file", object_id.hex(), mode == b"100755")
                return SnapshotEntry("other")
            if mode != _TREE:
                return SnapshotEntry("other")
            folder = f"{folder}/{name}" if folder else name
            tree = await self._tree(folder, object_id)
        return None

    async def _tree(
        self, folder: str, object_id: bytes | None = None
    ) -> dict[str, tuple[bytes, bytes]] | None:
        if folder in self._trees:
            return self._trees[folder]
        name = object_id.hex() if object_id is not None else f"{self.snapshot.commit}^{{tree}}"
        data = await self._object(name, b"tree")
        parsed = _parse_tree(data, self._hash_size) if data is not None else None
        self._trees[folder] = parsed
        return parsed

    async def _object(self, name: str, kind: bytes) -> bytes | None:
        return (await self._objects([name], kind))[0]

    async def _objects(self, names: list[str], kind: bytes) -> list[bytes | None]:
        """Several objects for one write to git (None: missing or not a `kind`)."""
        dialogue = await self._running()
        try:
            await dialogue.send(b"".join(name.encode() + b"\n" for name in names))
            return [await self._reply(dialogue, kind) for _ in names]
        except BaseException:
            dialogue.kill()  # cancelled or failed mid-reply: the stream is out of step
            raise

    async def _reply(self, dialogue: Dialogue, kind: bytes) -> bytes | None:
        header = await dialogue.readline(_READ_TIMEOUT_S)
        if not header:
            raise SandboxError(f"git cat-file stopped answering in {self.snapshot.shadow_dir}")
        fields = header.split()
        if len(fields) != 3:  # "<name> missing"
            return None
        size = int(fields[2])
        data = await dialogue.readexactly(size + 1, _READ_TIMEOUT_S)
        return data[:-1] if fields[1] == kind else None

    async def _running(self) -> Dialogue:
        if self._dialogue is None or not self._dialogue.alive:
            self._dialogue = await start_git_dialogue(
                self.snapshot.shadow_dir, ["cat-file", "--batch"]
            )
        return self._dialogue


def _parse_tree(data: bytes, hash_size: int) -> dict[str, tuple[bytes, bytes]]:
    """`{name: (mode, object id)}` of a raw tree object."""
    entries: dict[str, tuple[bytes, bytes]] = {}
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        mode = data[position:space]
        name = os.fsdecode(data[space + 1:nul])
        entries[name] = (mode, data[nul + 1:nul + 1 + hash_size])
        position = nul + 1 + hash_size
    return entries


def _user_attributes() -> Path:
    """The attributes file git reads when `core.attributesFile` is unset (our git runs
    without the global config, but this default still applies)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(config_home) / "git" / "attributes"


def _non_empty(path: os.PathLike[str]) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False
