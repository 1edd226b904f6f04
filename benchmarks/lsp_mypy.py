"""mypy diagnostics after a save in a 200-module project: cold and warm.

    .venv/bin/python benchmarks/lsp_mypy.py [--modules 200] [--rounds 3]

The project is a chain of ~70-line modules (dataclasses, generics, protocols): module i
imports module i-1, so checking the last module makes mypy analyse all of them.
"Cold": the save after Stomper's mypy cache was deleted (mypy re-analyses every module
and the typeshed stubs). "Warm": a save after an edit of the last module, a second after
the previous save; mypy's incremental cache (kept by Stomper outside the workspace) lets
it re-check only what changed. Target: warm at least 5x faster than cold.
"Dirty": an unsaved change of the last module (nothing written to disk), which mypy reads
through `--shadow-file` once typing pauses (`_MYPY_IDLE_S`, 0.5 s). Target: the mypy
run on a dirty buffer (the time after the idle wait) within 1.5x of a warm save. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsp_client import BenchClient

STOMPER = [sys.executable, "-m", "stomper_lsp"]
IDLE_S = 0.5  # stomper_lsp/server/checks.py: _MYPY_IDLE_S


_BODY = """

@dataclass
class Record{i}:
    key: str
    values: list[int] = field(default_factory=list)
    tags: dict[str, float] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.values) + {i}

    def scaled(self, factor: float) -> dict[str, float]:
        return {{name: weight * factor for name, weight in self.tags.items()}}


class Store{i}(Generic[T]):
    def __init__(self) -> None:
        self._items: dict[str, T] = {{}}

    def put(self, key: str, item: T) -> None:
        self._items[key] = item

    def get(self, key: str, default: T | None = None) -> T | None:
        return self._items.get(key, default)

    def keys(self) -> Iterator[str]:
        yield from sorted(self._items)


class Sink{i}(Protocol):
    def write(self, record: Record{i}) -> int: ...


def load_{i}(rows: Iterable[tuple[str, list[int]]]) -> list[Record{i}]:
    records = [Record{i}(key, list(values)) for key, values in rows]
    for record in records:
        record.tags = {{str(v): v / 2 for v in record.values}}
    return records


def summarize_{i}(records: Sequence[Record{i}]) -> dict[str, int]:
    out: dict[str, int] = {{}}
    for record in records:
        out[record.key] = out.get(record.key, 0) + record.total()
    return out


def pipeline_{i}(sink: Sink{i}, rows: Iterable[tuple[str, list[int]]]) -> int:
    store: Store{i}[Record{i}] = Store{i}()
    written = 0
    for record in load_{i}(rows):
        store.put(record.key, record)
        written += sink.write(record)
    best = max(summarize_{i}(list(filter(None, map(store.get, store.keys())))).values(),
               default=0)
    return written + best
"""


def make_project(root: Path, modules: int) -> Path:
    """`modules` modules of ~70 lines (classes, generics, protocols) in an import chain."""
    pkg = root / "chain"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    header = (
        "from __future__ import annotations\n\n"
        "from collections.abc import Iterable, Iterator, Sequence\n"
        "from dataclasses import dataclass, field\n"
        "from typing import Generic, Protocol, TypeVar\n\n"
    )
    for i in range(modules):
        body = [header]
        if i:
            body.append(f"from chain.m{i - 1:03d} import Record{i - 1}, pipeline_{i - 1}\n\n")
        body.append('T = TypeVar("T")\n')
        body.append(_BODY.format(i=i))
        if i:
            body.append(
                f"\n\ndef previous_{i}(sink: object) -> Record{i - 1}:\n"
                f"    return Record{i - 1}(str(pipeline_{i - 1}), [{i}])\n"
            )
        (pkg / f"m{i:03d}.py").write_text("".join(body))
    return pkg / f"m{modules - 1:03d}.py"


async def save_and_wait(client: BenchClient, uri: str, path: Path, text: str,
                        version: int) -> float:
    path.write_text(text)
    client.change(uri, version, text)
    started = time.perf_counter()
    client.save(uri)
    arrival, _ = await client.published_for(
        uri,
        lambda p: any(f"marker{version}" in d.message for d in p.diagnostics),
        timeout=600,
    )
    return arrival - started


async def change_and_wait(client: BenchClient, uri: str, text: str, version: int) -> float:
    """Unsaved: the buffer changes, the file on disk does not."""
    client.change(uri, version, text)
    started = time.perf_counter()
    arrival, _ = await client.published_for(
        uri,
        lambda p: any(f"marker{version}" in d.message for d in p.diagnostics),
        timeout=600,
    )
    return arrival - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stomper-bench-") as tmp:
        root = Path(tmp) / "project"
        cache_home = Path(tmp) / "cache"
        os.environ["XDG_CACHE_HOME"] = str(cache_home)
        last = make_project(root, args.modules)
        base = last.read_text()
        client = BenchClient({"tools": ["mypy"]})
        await client.launch(*STOMPER)
        try:
            await client.handshake(root, pull=False, options={"tools": ["mypy"]})
            uri = client.open(last, base)
            await client.published_for(uri, lambda p: True, timeout=600, since=0)
            cold: list[float] = []
            warm: list[float] = []
            dirty: list[float] = []
            version = 1
            for _ in range(args.rounds):
                shutil.rmtree(cache_home / "stomper" / "mypy", ignore_errors=True)
                version += 1
                text = base + f"print(marker{version})\n"
                cold.append(await save_and_wait(client, uri, last, text, version))
                for _ in range(2):
                    # A second apart, like a person: mypy compares whole-second mtimes,
                    # and Stomper drops the cache when two saves share one.
                    await asyncio.sleep(1.1)
                    version += 1
                    text = base + f"print(marker{version})\n"
                    warm.append(await save_and_wait(client, uri, last, text, version))
                for _ in range(2):
                    await asyncio.sleep(1.1)
                    version += 1
                    text = base + f"print(marker{version})\n"
                    dirty.append(await change_and_wait(client, uri, text, version))
        finally:
            await client.close_session()
        print(f"save -> mypy diagnostics, {args.modules}-module project (import chain)")
        print(f"  cold (no cache)  median {statistics.median(cold):.2f} s   "
              f"max {max(cold):.2f} s   (n={len(cold)})")
        print(f"  warm (cache)     median {statistics.median(warm):.2f} s   "
              f"max {max(warm):.2f} s   (n={len(warm)})")
        ratio = statistics.median(cold) / statistics.median(warm)
        print(f"  warm is {ratio:.1f}x faster than cold (target >= 5x)")
        print(f"  dirty (unsaved)  median {statistics.median(dirty):.2f} s   "
              f"max {max(dirty):.2f} s   (n={len(dirty)}), from the change, "
              f"{IDLE_S:.1f} s idle wait included")
        run = statistics.median(dirty) - IDLE_S
        print(f"  dirty mypy run   median {run:.2f} s: {run / statistics.median(warm):.2f}x "
              f"a warm save (target <= 1.5x)")


if __name__ == "__main__":
    asyncio.run(main())
