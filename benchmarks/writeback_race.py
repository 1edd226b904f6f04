"""Write-back under racing saves: lost saves (target 0) and what a checked write costs.

    .venv/bin/python benchmarks/writeback_race.py [--trials 1000] [--dir DIR]

1. `--trials` race trials, half saving in place (truncate + write in two chunks), half by
   temp file + rename: a file at the snapshot text, Stomper's fix for its first line, and
   a thread saving a change to its last line at a random moment (0-1.5 ms) while
   `deliver_to_working_tree` runs. A save is lost when its line is not in the file after
   both finished. Also prints how delivery ended (written / merged / conflict) so you can
   see the race was really run.
2. Cost per file of the checked swap (`replace_if_unchanged`) against a plain
   temp-file + `os.replace`, 1,000 uncontended writes of a 4 KB file each.
Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from stomper_lsp.delivery.swap import exchange_works, leases_work, replace_if_unchanged
from stomper_lsp.delivery.working_tree import deliver_to_working_tree
from stomper_lsp.workflow.report import FileChange

BASE = "".join(f"line_{n} = {n}\n" for n in range(40))
FIX = BASE.replace("line_0 = 0", "line_0 = 'fixed'")


def _save(path: Path, text: str, style: str, delay: float) -> None:
    time.sleep(delay)
    if style == "in-place":
        with path.open("w", encoding="utf-8") as handle:
            half = len(text) // 2
            handle.write(text[:half])
            handle.flush()
            time.sleep(0)
            handle.write(text[half:])
    else:
        temp = path.with_name(path.name + ".save-tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)


async def race(folder: Path, trials: int) -> None:
    rng = random.Random(1)
    for style in ("in-place", "rename"):
        lost = 0
        ended = {"written": 0, "merged": 0, "conflict": 0}
        for trial in range(trials // 2):
            path = folder / f"{style}-{trial}.py"
            path.write_text(BASE, encoding="utf-8")
            mine = BASE.replace("line_39 = 39", f"line_39 = 'save {trial}'")
            writer = threading.Thread(
                target=_save, args=(path, mine, style, rng.uniform(0, 0.0015))
            )
            writer.start()
            result = await deliver_to_working_tree(
                folder, [FileChange(path=path.name, base_text=BASE, new_text=FIX)]
            )
            writer.join()
            if f"'save {trial}'" not in path.read_text(encoding="utf-8"):
                lost += 1
            key = "written" if result.written else "merged" if result.merged else "conflict"
            ended[key] += 1
        print(
            f"{style:>8}: {trials // 2} trials, lost saves {lost}; delivery: "
            + ", ".join(f"{k} {v}" for k, v in ended.items())
        )


def plain_replace(path: Path, data: bytes) -> None:
    """The write-back before the checked swap: temp file, then `os.replace` over the file."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(name, path.stat().st_mode)
    os.replace(name, path)


def cost(folder: Path, writes: int = 1000) -> None:
    text = "x = 1\n" * 680  # about 4 KB
    data = text.encode()
    path = folder / "cost.py"
    path.write_bytes(data)
    timings: dict[str, list[float]] = {"checked swap": [], "plain replace": []}
    for _ in range(writes):
        started = time.perf_counter()
        assert replace_if_unchanged(path, data, data)
        timings["checked swap"].append(time.perf_counter() - started)
        started = time.perf_counter()
        plain_replace(path, data)
        timings["plain replace"].append(time.perf_counter() - started)
    for name, values in timings.items():
        print(
            f"{name:>13}: median {statistics.median(values) * 1e6:.0f} us, "
            f"p95 {sorted(values)[int(len(values) * 0.95)] * 1e6:.0f} us per file"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="where the files live")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stomper-race-", dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"{folder}: atomic exchange {exchange_works(folder)}, "
              f"write leases {leases_work(folder)}")
        asyncio.run(race(folder, args.trials))
        cost(folder)


if __name__ == "__main__":
    main()
