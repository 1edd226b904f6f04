"""What a killed fix run loses, and what storing each outcome costs. Prints figures.

    .venv/bin/python benchmarks/resume.py [--files 16] [--parallel 4] [--sleep 1.0] [--kill-at 6]

Makes a throwaway repository of `--files` files with ruff issues, runs the real `stomper fix`
with a fake agent that sleeps `--sleep` s, SIGKILLs the whole process group after
`--kill-at` s, then runs `stomper fix --resume`. Reports files whose agent had finished
before the kill, files stored, files re-run by the resume (loss = finished but re-run), and
the median cost of one `OutcomeStore.save` (on the coordinator, once per file). Needs no
network; the user's cache is not touched (its own STOMPER_OUTCOME_DB / STOMPER_CONFIG).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stomper_lsp.workflow.outcome_store import OutcomeStore
from stomper_lsp.workflow.report import FileOutcome, FileStatus

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_agents" / "fake_agent.py"
STOMPER = str(Path(sys.executable).parent / "stomper")
BROKEN = "import os\n\n\ndef check(x):\n    return x == None\n"


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _repo(work: Path, files: int) -> Path:
    root = work / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "E711"]\n')
    for i in range(files):
        (root / f"m{i}.py").write_text(BROKEN)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=b@b", "-c", "user.name=b",
                                                   "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


async def _save_cost(db: Path, runs: int) -> float:
    store = OutcomeStore(db)
    outcome = FileOutcome(path="x.py", status=FileStatus.FIXED, issues_before=2, issues_after=0)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        await store.save("k", outcome.model_copy(update={"path": f"m{i}.py"}), {"x.py": BROKEN})
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--kill-at", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = _repo(work, args.files)
        count = work / "count"
        agent = [sys.executable, str(FAKE), "{file}", "--count-file", str(count), "--sleep",
                 str(args.sleep), "--replace", "import os\\n\\n\\n", "", "--replace",
                 "== None", "is None"]
        config = work / "user.toml"
        config.write_text(f'agent = "command"\nagent_command = {json.dumps(agent)}\n'
                          f'max_parallel_files = {args.parallel}\ntools = ["ruff"]\n'
                          f'agent_writable_dirs = [{str(work)!r}]\n')
        env = {**os.environ, "STOMPER_CONFIG": str(config),
               "STOMPER_OUTCOME_DB": str(work / "outcomes.db")}
        proc = subprocess.Popen([STOMPER, "fix", "--json"], cwd=root, env=env,
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(args.kill_at)
        started = _lines(count)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        db = sqlite3.connect(work / "outcomes.db")
        stored = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        db.close()
        began = time.monotonic()
        run = subprocess.run([STOMPER, "fix", "--resume", "--json"], cwd=root, env=env,
                             capture_output=True, text=True, check=True)
        resume_s = time.monotonic() - began
        report = json.loads(run.stdout)
        resumed = sum(1 for f in report["files"] if f["resumed"])
        rerun = _lines(count) - started
        # Agents that had finished at the kill: started minus the (at most k) still running.
        finished_at_least = max(0, started - args.parallel)
        save_ms = asyncio.run(_save_cost(work / "cost.db", 200))
    print(f"files {args.files}, k={args.parallel}, agent {args.sleep} s, SIGKILL at "
          f"{args.kill_at} s")
    print(f"agents started before the kill: {started} (finished: at least {finished_at_least})")
    print(f"outcomes stored: {stored}; resume reused {resumed}, re-ran {rerun} "
          f"in {resume_s:.2f} s")
    loss = max(0, finished_at_least - stored)
    print(f"loss (finished before the kill but re-run): at most {loss}")
    print(f"OutcomeStore.save median: {save_ms:.2f} ms per file")


if __name__ == "__main__":
    main()
