"""Fix yield and test cost on real projects with lint debt (issue 10). Prints a table.

    .venv/bin/python benchmarks/yield.py [--keep DIR]

Each project is an old release whose sdist on PyPI ships its tests (pinned below),
downloaded with `pip download --no-binary :all:` into a temporary folder, given the
issue's rule set through a ruff.toml, and committed to a fresh git repository. Per
project: issues before; `ruff check --fix` and `--fix --unsafe-fixes` alone; Stomper (the
built-in agent) without and with the project's test command (batch mode, the default, and
per-file mode; `test_bisect_budget` at its default). For each: issues remaining,
tests broken (failures beyond the ones the release already has here), new issues (by
Stomper's fingerprints), suite runs (the batched stage's `suite_runs` plus every file's
`test_runs`) and wall time, the latter also as a multiple of one suite run. Needs PyPI
(pip's cache is fine) and nothing else; the suites run offline.
Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.checkers.environment import ProjectEnvironment
from stomper_lsp.checkers.model import Issue, new_issues
from stomper_lsp.checkers.ruff import RuffChecker

RULES = ["F", "E4", "E7", "E9", "W", "I", "UP", "B", "SIM", "C4", "RUF"]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Subject:
    name: str
    version: str
    tests: list[str]  # argv after `python -m pytest`; the release's own failures deselected


SUBJECTS = [
    Subject("inflection", "0.3.1", ["-q", "-x", "-p", "no:cacheprovider", "test_inflection.py"]),
    Subject("toolz", "0.9.0", [
        "-q", "-x", "-p", "no:cacheprovider", "toolz",
        # These fail on today's Python before any fix (collections.abc, random.sample...).
        "--deselect", "toolz/tests/test_inspect_args.py::test_introspect_builtin_modules",
        "--deselect", "toolz/tests/test_itertoolz.py::test_nth",
        "--deselect", "toolz/tests/test_itertoolz.py::test_random_sample",
        "--deselect", "toolz/tests/test_tlz.py::test_tlz",
    ]),
]


def _run(argv: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _fetch(subject: Subject, into: Path) -> Path:
    _run([str(BIN / "pip"), "download", "-q", "--no-deps", "--no-binary", ":all:",
          "-d", str(into), f"{subject.name}=={subject.version}"], into)
    [archive] = into.glob(f"{subject.name}-{subject.version}.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / f"{subject.name}-{subject.version}"


def _prepare(source: Path, root: Path) -> Path:
    shutil.copytree(source, root)
    (root / "ruff.toml").write_text(f"[lint]\nselect = {json.dumps(RULES)}\n")
    (root / "pyproject.toml").write_text('[tool.stomper]\ntools = ["ruff"]\n')
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "r"]):
        _run(argv, root)
    return root


def _issues(root: Path) -> list[Issue]:
    checker = RuffChecker(ProjectEnvironment(root), explicit_path=str(BIN / "ruff"))
    files = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if ".git" not in p.parts]
    return asyncio.run(checker.check(root, sorted(files)))


def _failures(root: Path, subject: Subject) -> tuple[int, float]:
    started = time.monotonic()
    argv = [sys.executable, "-m", "pytest", *[a for a in subject.tests if a != "-x"]]
    out = _run(argv, root)
    elapsed = time.monotonic() - started
    failed = re.search(r"(\d+) failed", out.stdout)
    errors = re.search(r"(\d+) error", out.stdout)
    count = sum(int(match.group(1)) for match in (failed, errors) if match)
    return count, elapsed


@dataclass
class Row:
    project: str
    tool: str
    remaining: int
    broken: int
    new: int
    suite_runs: str
    wall_s: float
    suite_s: float


def _row(project: str, tool: str, root: Path, subject: Subject, before: list[Issue],
         suite_runs: str, wall: float, suite_s: float) -> Row:
    after = _issues(root)
    failed, _ = _failures(root, subject)
    return Row(project, tool, len(after), failed, len(new_issues(before, after)), suite_runs,
               wall, suite_s)


def measure(subject: Subject, workspace: Path) -> list[Row]:
    source = _fetch(subject, workspace / "download")
    label = f"{subject.name} {subject.version}"
    base = _prepare(source, workspace / "base")
    before = _issues(base)
    # The fastest of three: other jobs on the machine slow single runs down.
    suite_s = min(_failures(base, subject)[1] for _ in range(3))
    rows = [Row(label, "before", len(before), 0, 0, "-", 0.0, suite_s)]
    for tool, flags in (("ruff --fix", []), ("ruff --fix --unsafe-fixes", ["--unsafe-fixes"])):
        root = _prepare(source, workspace / tool.replace(" ", "_"))
        started = time.monotonic()
        _run([str(BIN / "ruff"), "check", "--fix", *flags, "--no-cache", "."], root)
        rows.append(_row(label, tool, root, subject, before, "0",
                         time.monotonic() - started, suite_s))
    test_command = " ".join([sys.executable, "-m", "pytest", *subject.tests])
    runs_with_tests = (
        ("stomper", []),
        ("stomper + tests", ["--test-command", test_command]),
        ("stomper + tests, per-file",
         ["--test-command", test_command, "--test-mode", "per-file"]),
    )
    for tool, flags in runs_with_tests:
        root = _prepare(source, workspace / re.sub(r"\W+", "_", tool))
        started = time.monotonic()
        out = _run([str(BIN / "stomper"), "fix", "--json", "--max-parallel-files", "4", *flags],
                   root)
        wall = time.monotonic() - started
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError:
            print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
            raise
        per_file = sum(f.get("test_runs", 0) for f in report["files"])
        runs = str(report.get("suite_runs", 0) + per_file)
        rows.append(_row(label, tool, root, subject, before, runs, wall, suite_s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    rows: list[Row] = []
    for subject in SUBJECTS:
        if args.keep:
            workspace = args.keep / subject.name
            shutil.rmtree(workspace, ignore_errors=True)
            (workspace / "download").mkdir(parents=True)
            rows += measure(subject, workspace)
        else:
            with tempfile.TemporaryDirectory(prefix="stomper-yield-") as temp:
                (Path(temp) / "download").mkdir()
                rows += measure(subject, Path(temp))
    print("| project | run | remaining | tests broken | new issues | suite runs | wall time |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        wall = "-" if r.tool == "before" else (
            f"{r.wall_s:.1f} s = {r.wall_s / r.suite_s:.1f} suite runs"
        )
        before = f"{r.remaining} (suite {r.suite_s:.1f} s)" if r.tool == "before" else r.remaining
        print(f"| {r.project} | {r.tool} | {before} | {r.broken} | {r.new} | {r.suite_runs} "
              f"| {wall} |")


if __name__ == "__main__":
    main()
