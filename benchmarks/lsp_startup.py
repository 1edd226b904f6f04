"""Start-up and memory of the language server.

    .venv/bin/python benchmarks/lsp_startup.py [--runs 10] [--files 200]

- start-up: process spawn -> `initialize` answered (target <= 0.6 s), and -> first ruff
  diagnostics of an opened file;
- idle RSS after start-up (target <= 80 MB), and after opening `--files` files with ruff
  and mypy on (target <= 150 MB), with whether the fix engine (LangGraph) got loaded;
  then after one fix run (which loads it).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsp_client import BenchClient, rss_mb
from lsprotocol import types

STOMPER = [sys.executable, "-m", "stomper_lsp"]


def make_project(root: Path, files: int) -> list[Path]:
    paths = []
    for i in range(files):
        path = root / "pkg" / f"mod_{i:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"import os\n\n\ndef value_{i}(x: int) -> int:\n    return x + {i}\n\n\n"
            f"RESULT_{i}: str = value_{i}(1)\n"
        )
        paths.append(path)
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost",
                  "commit", "-qm", "init"]):
        subprocess.run(argv, cwd=root, check=True)  # fix runs need a repository
    return paths


def langgraph_loaded(pid: int) -> bool:
    """LangGraph is pure Python; its checkpointer's compiled msgpack shows in the maps."""
    return "ormsgpack" in Path(f"/proc/{pid}/maps").read_text()


async def startup(root: Path, first: Path) -> tuple[float, float]:
    client = BenchClient({"tools": ["ruff"]})
    spawned = time.perf_counter()
    await client.launch(*STOMPER)
    try:
        await client.handshake(root, pull=False, options={"tools": ["ruff"]})
        initialized = time.perf_counter() - spawned
        uri = client.open(first, first.read_text())
        arrival, _ = await client.published_for(uri, lambda p: bool(p.diagnostics))
        return initialized, arrival - spawned
    finally:
        await client.close_session()


async def memory(root: Path, paths: list[Path]) -> None:
    client = BenchClient({})
    await client.launch(*STOMPER)
    try:
        await client.handshake(root, pull=False)
        await asyncio.sleep(1.0)
        print(f"  idle RSS after start-up       {rss_mb(client.pid):6.1f} MB (target <= 80 MB)")
        uris = [client.open(path, path.read_text()) for path in paths]
        for uri in uris:  # every file checked by ruff and by mypy
            await client.published_for(
                uri, lambda p: any(d.source == "Mypy" for d in p.diagnostics), 300, since=0
            )
        await asyncio.sleep(1.0)
        print(f"  RSS with {len(paths)} files open + checked {rss_mb(client.pid):6.1f} MB "
              "(target <= 150 MB)")
        print(f"  fix engine (LangGraph) loaded: {langgraph_loaded(client.pid)}")
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="stomper.fixFile", arguments=[uris[0]])
        )
        while not any(m.startswith("Stomper: ") for m in client.messages):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        print(f"  RSS after one fix run          {rss_mb(client.pid):6.1f} MB "
              f"(fix engine loaded: {langgraph_loaded(client.pid)})")
    finally:
        await client.close_session()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stomper-bench-") as tmp:
        root = Path(tmp)
        paths = make_project(root, args.files)
        runs = [await startup(root, paths[0]) for _ in range(args.runs)]
        init = [r[0] for r in runs]
        first = [r[1] for r in runs]
        print(f"start-up over {args.runs} runs")
        print(f"  spawn -> initialize answered   median {statistics.median(init):.3f} s   "
              f"max {max(init):.3f} s (target <= 0.6 s)")
        print(f"  spawn -> first diagnostics     median {statistics.median(first):.3f} s   "
              f"max {max(first):.3f} s")
        print("memory")
        await memory(root, paths)


if __name__ == "__main__":
    asyncio.run(main())
