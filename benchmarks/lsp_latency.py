"""Edit -> ruff diagnostics latency on a 1,000-line file: Stomper vs `ruff server`.

    .venv/bin/python benchmarks/lsp_latency.py [--edits 60] [--lines 1000] [--baseline DIR]

`--baseline DIR` adds a third server: the `stomper_lsp` package in DIR (an older
revision, e.g. `git archive HEAD~1 stomper_lsp | tar -x -C DIR`), run in the same turns,
so old and new code are compared under the same load.

Both servers run side by side, driven by the same client code, and take turns edit by
edit (so the machine's load hits both alike), in push mode (`publishDiagnostics` for the
edited version) and pull mode (`textDocument/diagnostic` right after the change). Edits
are isolated (a pause between them), so each figure is the latency of one keystroke, not
of a coalesced burst. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsp_client import BenchClient, summary_ms

STOMPER = [sys.executable, "-m", "stomper_lsp"]
RUFF = [str(Path(sys.executable).parent / "ruff"), "server"]
_PAUSE_S = 0.15


def source(lines: int) -> str:
    """Plausible Python with a few findings per screen (unused imports and variables)."""
    parts = ["import os\nimport sys\nimport json\n\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < lines - 6:
        parts.append(
            f"def handler_{i}(payload: dict, retries: int = 3) -> dict:\n"
            f"    unused_{i} = len(payload)\n"
            f"    result = {{'id': {i}, 'ok': retries > 0}}\n"
            f"    if payload.get('debug'):\n"
            f"        print(json.dumps(result))\n"
            f"    return result\n\n\n"
        )
        i += 1
    return "".join(parts)


class Session:
    """One server with the file open, ready for edits."""

    def __init__(self, argv: list[str], options: object) -> None:
        self.argv = argv
        self.options = options
        self.client = BenchClient({"tools": ["ruff"]})
        self.uri = ""
        self.latencies: list[float] = []

    async def start(self, root: Path, text: str, *, pull: bool) -> None:
        await self.client.launch(*self.argv)
        await self.client.handshake(root, pull=pull, options=self.options)
        self.uri = self.client.open(root / "big.py", text)
        if pull:
            await self.client.pull(self.uri)
        else:
            await self.client.published_for(self.uri, lambda p: bool(p.diagnostics))

    async def edit(self, text: str, version: int, *, pull: bool) -> None:
        edited = text + f"late_{version} = {version}\n"
        started = time.perf_counter()
        self.client.change(self.uri, version, edited)
        if pull:
            await self.client.pull(self.uri)
            self.latencies.append(time.perf_counter() - started)
        else:
            arrival, _ = await self.client.published_for(
                self.uri, lambda p, v=version: p.version == v
            )
            self.latencies.append(arrival - started)


def baseline_command(package_dir: Path) -> list[str]:
    """Stomper from another checkout's package; not `-m`, which puts the current
    directory (this working tree) first on `sys.path`."""
    start = (
        f"import runpy, sys; sys.path.insert(0, {str(package_dir)!r}); "
        "runpy.run_module('stomper_lsp', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", start]


async def measure(
    root: Path, text: str, *, pull: bool, edits: int, baseline: Path | None = None
) -> dict[str, list[float]]:
    """The servers run side by side and take turns (in rotating order), so a change in
    the machine's load hits them alike: the ratio is measured under one load."""
    sessions = {
        "stomper": Session(STOMPER, {"tools": ["ruff"]}),
        "ruff server": Session(RUFF, None),
    }
    if baseline is not None:
        sessions["baseline"] = Session(baseline_command(baseline), {"tools": ["ruff"]})
    try:
        for session in sessions.values():
            await session.start(root, text, pull=pull)
        order = list(sessions.values())
        for version in range(2, edits + 2):
            for session in order:
                await asyncio.sleep(_PAUSE_S)
                await session.edit(text, version, pull=pull)
            order = order[1:] + order[:1]
    finally:
        for session in sessions.values():
            await session.client.close_session()
    return {name: session.latencies for name, session in sessions.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--baseline", type=Path, help="a folder holding an older stomper_lsp")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "stomper_lsp").is_dir():
        parser.error(f"--baseline {args.baseline}: no stomper_lsp package in it")
    text = source(args.lines)
    with tempfile.TemporaryDirectory(prefix="stomper-bench-") as tmp:
        root = Path(tmp)
        (root / "big.py").write_text(text)
        print(f"edit -> ruff diagnostics, {text.count(chr(10))}-line file, {args.edits} edits")
        medians = {}
        for mode in ("push", "pull"):
            measured = await measure(
                root, text, pull=mode == "pull", edits=args.edits, baseline=args.baseline
            )
            for name, values in measured.items():
                medians[(mode, name)] = statistics.median(values)
                print(f"  {mode}  {name:<12} {summary_ms(values)}")
        for mode in ("push", "pull"):
            ratio = medians[(mode, "stomper")] / medians[(mode, "ruff server")]
            print(f"  {mode}: Stomper's median is {ratio:.2f}x ruff server's (target <= 2x)")
            if args.baseline is not None:
                old = medians[(mode, "baseline")] / medians[(mode, "ruff server")]
                print(f"  {mode}: the baseline's median is {old:.2f}x ruff server's")


if __name__ == "__main__":
    asyncio.run(main())
