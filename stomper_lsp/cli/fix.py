"""`stomper fix`: run the engine, show progress, deliver into the working tree (or commit)."""

from __future__ import annotations

import difflib
import json
import sys
from typing import TextIO

from stomper_lsp.cli.exit_codes import EXIT_CLEAN, EXIT_ERROR, EXIT_ISSUES
from stomper_lsp.cli.progress_display import ProgressDisplay
from stomper_lsp.delivery.commits import CommitReport, commit_fixes
from stomper_lsp.delivery.working_tree import DeliveryResult, deliver_to_working_tree
from stomper_lsp.project import Project
from stomper_lsp.workflow.engine import run_fix
from stomper_lsp.workflow.report import FileStatus, FixReport, RunStatus


async def run_fix_command(
    project: Project,
    paths: list[str],
    *,
    as_json: bool,
    dry_run: bool,
    commit: bool,
    out: TextIO,
    resume: bool = False,
) -> int:
    live = out.isatty() and not as_json
    display = ProgressDisplay(sys.stderr if as_json else out, live=live)
    try:
        report = await run_fix(
            project, paths=paths or None, on_progress=None if as_json else display,
            resume=resume,
        )
    finally:
        display.close()
    delivery = DeliveryResult()
    commits = CommitReport()
    if not dry_run and report.changes:
        if commit:
            commits = await commit_fixes(project.root, report.files, report.changes)
        else:
            delivery = await deliver_to_working_tree(project.root, report.changes)
    if as_json:
        _print_json(report, delivery, commits, dry_run=dry_run, out=out)
    else:
        _print_text(report, delivery, commits, dry_run=dry_run, out=out)
    for error in report.errors:
        print(f"stomper: error: {error}", file=sys.stderr)
    if report.status == RunStatus.FAILED or report.stopped:
        return EXIT_ERROR
    left = report.issues_after + sum(
        o.issues_before for o in report.files if o.path in delivery.conflicts
    )
    return (
        EXIT_ISSUES
        if left or delivery.conflicts or commits.refused or commits.not_written
        else EXIT_CLEAN
    )


_EXPLAINED = (FileStatus.FAILED, FileStatus.CONFLICT, FileStatus.SKIPPED)


def _print_text(
    report: FixReport, delivery: DeliveryResult, commits: CommitReport, *, dry_run: bool,
    out: TextIO,
) -> None:
    if dry_run:
        for change in report.changes:
            out.writelines(
                difflib.unified_diff(
                    (change.base_text or "").splitlines(keepends=True),
                    (change.new_text or "").splitlines(keepends=True),
                    fromfile=f"a/{change.path}",
                    tofile=f"b/{change.path}",
                )
            )
    if report.files:
        width = max(len(o.path) for o in report.files)
        print(f"\n{'status':<10} {'file':<{width}}  before  after  tries  time", file=out)
        for o in report.files:
            print(
                f"{o.status.value:<10} {o.path:<{width}}  {o.issues_before:>6}  "
                f"{o.issues_after:>5}  {o.attempts:>5}  {o.duration_s:>5.1f}s",
                file=out,
            )
            if o.status in _EXPLAINED and o.message:
                print(f"{'':<10} {o.message.splitlines()[0]}", file=out)
            left_out = sorted({p for a in o.attempt_reports for p in a.left_out})
            if left_out and o.status in (FileStatus.FIXED, FileStatus.PARTIAL):
                print(f"{'':<10} left out (not delivered): {', '.join(left_out)}", file=out)
            if o.attempt_reports:
                for dropped in o.attempt_reports[-1].dropped_fixes:
                    print(f"{'':<10} dropped fix: {dropped}", file=out)
    if report.resumed_files:
        print(f"resumed: {report.resumed_files} file(s) taken from an interrupted run", file=out)
    for path, why in delivery.conflicts.items():
        print(f"not written: {path}: {why}", file=out)
    for sha, message, paths in commits.commits:
        print(f"committed {sha[:10]} {message} ({', '.join(paths)})", file=out)
    for path, why in commits.refused.items():
        print(f"not committed: {path}: {why}", file=out)
    for path, why in commits.not_written.items():
        print(f"not written: {path}: {why}", file=out)
    counts = {s: len(report.by_status(s)) for s in FileStatus}
    verb = "would change" if dry_run else "changed"
    print(
        f"\n{report.issues_before - report.issues_after} of {report.issues_before} issues fixed "
        f"({report.issues_after} left) in {report.duration_s:.1f}s; "
        + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        + f"; {verb} {len(report.changes)} files; "
        f"peak {report.peak_concurrent_files} files at once.",
        file=out,
    )
    if report.tokens is not None or report.usd is not None:
        cost = f"${report.usd:.4f}" if report.usd is not None else "cost not reported"
        print(f"Agents used {report.tokens or 0} tokens ({cost}).", file=out)
    if report.files:
        how = (
            "UNCONFINED (you allowed it); attempts that changed files outside their sandbox "
            "were rejected" if report.confinement.startswith("none") else
            f"confined by {report.confinement}"
        )
        print(f"Agents ran {how}.", file=out)
    logs = sorted({o.log_path for o in report.files if o.log_path})
    if logs:
        print(f"Agent logs: {logs[0].rsplit('/', 1)[0]}", file=out)


def _print_json(
    report: FixReport, delivery: DeliveryResult, commits: CommitReport, *, dry_run: bool,
    out: TextIO,
) -> None:
    payload = report.model_dump(mode="json")
    payload["dry_run"] = dry_run
    payload["delivery"] = {
        "written": delivery.written,
        "merged": delivery.merged,
        "conflicts": delivery.conflicts,
    }
    payload["commits"] = [
        {"sha": sha, "message": message, "paths": paths} for sha, message, paths in commits.commits
    ]
    payload["commit_refused"] = commits.refused
    payload["commit_not_written"] = commits.not_written
    json.dump(payload, out, indent=2)
    out.write("\n")
