"""Edit -> ruff diagnostics latency on a 1,000-line file: Stomper vs `ruff server`.

    .venv/bin/python benchmarks/lsp_latency.py [--edits 60] [--lines 1000]

Both servers are driven by the same client in the same run, in push mode
(`publishDiagnostics` for the edited version) and pull mode (`textDocument/diagnostic`
right after the change). Edits are isolated (a pause between them), so each figure is
the latency of one keystroke, not of a coalesced burst. Prints figures; asserts nothing.
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


async def measure(argv: list[str], root: Path, text: str, *, pull: bool, edits: int,
                  options: object = None) -> list[float]:
    client = BenchClient({"tools": ["ruff"]})
    await client.launch(*argv)
    try:
        await client.handshake(root, pull=pull, options=options)
        path = root / "big.py"
        uri = client.open(path, text)
        if pull:
            await client.pull(uri)
        else:
            await client.published_for(uri, lambda p: bool(p.diagnostics))
        latencies = []
        for version in range(2, edits + 2):
            await asyncio.sleep(_PAUSE_S)
            edited = text + f"late_{version} = {version}\n"
            started = time.perf_counter()
            client.change(uri, version, edited)
            if pull:
                await client.pull(uri)
                latencies.append(time.perf_counter() - started)
            else:
                arrival, _ = await client.published_for(uri, lambda p, v=version: p.version == v)
                latencies.append(arrival - started)
        return latencies
    finally:
        await client.close_session()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--lines", type=int, default=1000)
    args = parser.parse_args()
    text = source(args.lines)
    with tempfile.TemporaryDirectory(prefix="stomper-bench-") as tmp:
        root = Path(tmp)
        (root / "big.py").write_text(text)
        print(f"edit -> ruff diagnostics, {text.count(chr(10))}-line file, {args.edits} edits")
        medians = {}
        for mode in ("push", "pull"):
            for name, argv, options in (
                ("stomper", STOMPER, {"tools": ["ruff"]}),
                ("ruff server", RUFF, None),
            ):
                values = await measure(argv, root, text, pull=mode == "pull",
                                       edits=args.edits, options=options)
                medians[(mode, name)] = statistics.median(values)
                print(f"  {mode}  {name:<12} {summary_ms(values)}")
        for mode in ("push", "pull"):
            ratio = medians[(mode, "stomper")] / medians[(mode, "ruff server")]
            print(f"  {mode}: Stomper's median is {ratio:.1f}x ruff server's (target <= 2x)")


if __name__ == "__main__":
    asyncio.run(main())
