"""Cost of confining one agent start. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/confinement.py [--runs 50] [--program /bin/true]

Starts `--program` through `run_process` `--runs` times per mechanism, bare and confined
(launcher only = `none (opt-in)`: reaping without Landlock; `landlock`; `bwrap`; both), and
prints the median and 90th percentile wall time per start, and the median overhead over
bare. Also the one-time detection cost (Landlock ABI + bubblewrap probe) and the cost of the
escape watch of an unconfined attempt over this repository. Target (issue 8): under 20 ms
of overhead per agent start. Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from stomper_lsp.confinement import Confinement, Mechanism
from stomper_lsp.confinement.escapes import take_stamps
from stomper_lsp.confinement.support import detect_support
from stomper_lsp.process import run_process


async def _time_starts(program: str, runs: int, confinement: Confinement | None) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await run_process([program], cwd="/", timeout=30, confinement=confinement)
        times.append((time.perf_counter() - started) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"{program} failed under {confinement}: {result.stderr_text}")
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--program", default="/bin/true")
    args = parser.parse_args()
    started = time.perf_counter()
    support = await detect_support()
    detection_ms = (time.perf_counter() - started) * 1000
    print(f"detection: {detection_ms:.1f} ms once per process (Landlock ABI "
          f"{support.landlock_abi}, bwrap {support.bwrap or support.bwrap_problem})")
    with tempfile.TemporaryDirectory() as scratch:
        sandbox, tmp = Path(scratch, "sandbox"), Path(scratch, "tmp")
        sandbox.mkdir()
        tmp.mkdir()
        rows: list[tuple[str, Confinement | None]] = [("bare", None)]
        for mechanism in (Mechanism.NONE, Mechanism.LANDLOCK, Mechanism.BWRAP,
                          Mechanism.BWRAP_LANDLOCK):
            if mechanism.uses_bwrap and not support.bwrap:
                continue
            if mechanism.uses_landlock and not support.landlock:
                continue
            rows.append((mechanism.label, Confinement(
                mechanism, (sandbox, tmp), tmp, landlock_abi=support.landlock_abi,
                bwrap=support.bwrap or "bwrap",
            )))
        await _time_starts(args.program, 5, None)  # warm the page cache
        bare = 0.0
        print(f"\n{'mechanism':<16} {'median ms':>10} {'p90 ms':>8} {'overhead ms':>12}")
        for name, confinement in rows:
            times = sorted(await _time_starts(args.program, args.runs, confinement))
            median = statistics.median(times)
            p90 = times[int(len(times) * 0.9) - 1]
            bare = median if confinement is None else bare
            print(f"{name:<16} {median:>10.1f} {p90:>8.1f} {median - bare:>12.1f}")
    root = Path(__file__).resolve().parents[1]
    started = time.perf_counter()
    stamps = take_stamps([root], [])
    watch_ms = (time.perf_counter() - started) * 1000
    print(f"\nescape watch (unconfined only): {watch_ms:.0f} ms to stamp {len(stamps)} "
          f"entries of {root.name}, twice per attempt")


if __name__ == "__main__":
    asyncio.run(main())
