"""Fix-engine throughput and overhead. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/fix_engine.py [--files 32] [--latency 1.0] [--big 5000]
        [--sandbox-dir DIR]   # e.g. a folder on disk, to compare with the default placement

1. N broken files, a fake agent that waits L seconds then fixes, k = 1, 2, 4, 8 in one
   invocation: wall time, speedup over k=1, efficiency (speedup / k), and per-file
   orchestration overhead.
2. The per-file overhead again in a repository of `--big` files (N of them broken), against
   one of 50 files, to show the cost per file does not grow with the repository.

Overheads: `lane` = (wall x k - N x L) / N, what each file costs beyond its agent, run
set-up included; `pipeline` = median over files of (file duration - agent time), Stomper's
work inside one file's branch (lease, re-check, diff, merge).
Targets (issue #3, L = 1 s, N = 32): speedup >= 3.6 at k=4, >= 6.5 at k=8; per-file overhead
<= 150 ms and at most 1.5x the 50-file figure on a 5,000-file repository.
Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stomper_lsp.project import Project
from stomper_lsp.sandbox.placement import choose_base_dir
from stomper_lsp.sandbox.repository import locate_repository
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, FixReport

FAKE_AGENT = Path(__file__).resolve().parents[1] / "tests" / "fake_agents" / "fake_agent.py"
BROKEN = "import os\n\n\ndef check_{i}(x):\n    return x == None\n"
CLEAN = "def value_{i}() -> int:\n    return {i}\n"
PYPROJECT = '[tool.ruff.lint]\nselect = ["F", "E711"]\n'


def make_repo(root: Path, broken: int, total: int) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for i in range(total):
        folder = root / f"pkg{i // 100}"
        folder.mkdir(exist_ok=True)
        template = BROKEN if i < broken else CLEAN
        (folder / f"mod{i}.py").write_text(template.format(i=i))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return root


def reset(root: Path) -> None:
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=root, check=True)


async def fix(root: Path, k: int, latency: float) -> tuple[float, FixReport]:
    agent = [sys.executable, str(FAKE_AGENT), "{file}", "--sleep", str(latency),
             "--replace", "import os\\n\\n\\n", "", "--replace", "== None", "is None"]
    project = Project.load(
        root,
        overrides={"tools": ["ruff"], "agent": "command", "agent_command": agent,
                   "max_parallel_files": k, "max_attempts": 1},
        read_user_file=False,
    )
    started = time.perf_counter()
    report = await run_fix(project)
    wall = time.perf_counter() - started
    bad = [o.path for o in report.files if o.status != FileStatus.FIXED]
    if bad:
        raise SystemExit(f"benchmark run did not fix {bad[:3]}: {report.files[0].message}")
    return wall, report


def overheads(wall: float, report: FixReport, k: int, latency: float) -> tuple[float, float]:
    n = len(report.files)
    lane = (wall * k - n * latency) / n
    pipeline = statistics.median(o.duration_s - o.agent_s for o in report.files)
    return lane, pipeline


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--big", type=int, default=5000)
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--sandbox-dir", help="sets STOMPER_SANDBOX_DIR for the runs")
    args = parser.parse_args()
    if args.sandbox_dir:
        os.environ["STOMPER_SANDBOX_DIR"] = args.sandbox_dir
    n, latency = args.files, args.latency
    with tempfile.TemporaryDirectory(prefix="stomper-bench-") as tmp:
        os.environ.setdefault("STOMPER_LOG_DIR", str(Path(tmp) / "logs"))
        repo = make_repo(Path(tmp) / "small", n, max(n, 50))
        print(f"## Fan-out: N={n} files, agent latency L={latency:g} s, ruff only\n")
        print("| k | wall (s) | speedup | efficiency | lane overhead/file (ms) "
              "| pipeline overhead/file (ms) | peak files | peak merges |")
        print("|---|---|---|---|---|---|---|---|")
        base = None
        for k in [int(x) for x in args.ks.split(",") if x]:
            reset(repo)
            wall, report = await fix(repo, k, latency)
            base = base or wall
            lane, pipeline = overheads(wall, report, k, latency)
            print(f"| {k} | {wall:.2f} | {base / wall:.2f} | {base / wall / k:.2f} | "
                  f"{lane * 1000:.0f} | {pipeline * 1000:.0f} | {report.peak_concurrent_files} "
                  f"| {report.peak_concurrent_merges} |", flush=True)
        print(f"\n## Repository size: N={n} broken files\n")
        print("| repository files | k | wall (s) | lane overhead/file (ms) "
              "| pipeline overhead/file (ms) | phases (s) | sandboxes in |")
        print("|---|---|---|---|---|---|---|")
        figures: dict[tuple[int, int], tuple[float, float]] = {}
        for total in (50, args.big):
            root = repo if total == max(n, 50) else make_repo(Path(tmp) / f"r{total}", n, total)
            for k in (1, 4):
                reset(root)
                wall, report = await fix(root, k, latency)
                lane, pipeline = overheads(wall, report, k, latency)
                figures[total, k] = (lane, pipeline)
                phases = ", ".join(f"{name} {sec:.2f}" for name, sec in report.timings.items())
                base = await choose_base_dir(await locate_repository(root), k)
                print(f"| {total} | {k} | {wall:.2f} | {lane * 1000:.0f} | "
                      f"{pipeline * 1000:.0f} | {phases} | {base.parent} |", flush=True)
        print()
        for k in (1, 4):
            small, big = figures[50, k], figures[args.big, k]
            print(f"ratio {args.big}/50 files at k={k}: lane {big[0] / small[0]:.2f}x, "
                  f"pipeline {big[1] / small[1]:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
