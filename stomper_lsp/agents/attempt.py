"""One attempt of one agent process: run it, tell how it ended in a line, log it in full.

The log lives outside the sandbox so it survives the worktree's removal, and it is
appended to so every attempt on a file stays readable in order.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.agents.base import AgentResult, AgentTask
from stomper_lsp.agents.failures import RunReading, read_run, watch_for
from stomper_lsp.process import ProcessResult, run_process


def describe_ending(result: ProcessResult, timeout: float) -> str:
    """How a process ended, in words a user understands at a glance."""
    if result.timed_out:
        return f"killed after the {timeout:g} s timeout"
    if result.returncode < 0:
        return f"killed by signal {-result.returncode} after {result.duration_s:.1f} s"
    return f"exit {result.returncode} after {result.duration_s:.1f} s"


def exit_code_of(result: ProcessResult) -> int | None:
    """The exit status, or None when the process did not exit on its own (timeout, signal)."""
    if result.timed_out or result.returncode < 0:
        return None
    return result.returncode


@dataclass(frozen=True)
class AttemptRecord:
    agent: str
    target: str
    attempt: int
    argv: Sequence[str]
    summary: str
    result: ProcessResult | None = None
    """None when the process never started (the summary says why)."""
    confinement: str = "none"
    """How the process tree was confined (see stomper_lsp.confinement)."""


def _header(record: AttemptRecord) -> list[str]:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return [
        f"===== stomper: {record.agent} agent, attempt {record.attempt} on {record.target} "
        f"({stamp}) =====",
        f"argv: {shlex.join(record.argv)}",
        f"confinement: {record.confinement}",
    ]


def format_record(record: AttemptRecord, *, streamed: bool = False) -> bytes:
    """The attempt's log entry; `streamed`: the header and the output are in the log
    already (LiveLog), only how it ended follows."""
    lines = ["----- end of output -----"] if streamed else _header(record)
    result = record.result
    if result is not None:
        code = "none (killed)" if exit_code_of(result) is None else str(result.returncode)
        lines += [
            f"exit code: {code}",
            f"duration: {result.duration_s:.1f} s",
            f"timed out: {'yes' if result.timed_out else 'no'}",
        ]
        if result.truncated:
            lines.append("output: truncated by Stomper (only the head and tail are kept)")
    lines.append(f"summary: {record.summary}")
    text = ("\n".join(lines) + "\n").encode("utf-8")
    if result is not None and not streamed:
        for label, data in (("stdout", result.stdout), ("stderr", result.stderr)):
            if data:
                text += f"----- {label} -----\n".encode() + data
                if not data.endswith(b"\n"):
                    text += b"\n"
    return text + b"\n"


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        log.write(data)


async def append_attempt_log(
    path: Path | None, record: AttemptRecord, *, streamed: bool = False
) -> None:
    """Append `record` to `path` (if any) without blocking the event loop on a large write."""
    if path is None:
        return
    await asyncio.to_thread(_append, path, format_record(record, streamed=streamed))


class LiveLog:
    """The agent's output goes into its log as it arrives, so a run that is killed (or
    Stomper itself) still leaves what the agent said; bounded like the kept output."""

    def __init__(self, path: Path, record: AttemptRecord, limit: int) -> None:
        self._left = limit
        self._tail = max(limit // 4, 1)
        self.cut = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        header = [*_header(record), "----- output (stdout and stderr, as it arrived) -----"]
        self._file.write(("\n".join(header) + "\n").encode("utf-8"))
        self._file.flush()
        self._ended_with_newline = True

    def __call__(self, chunk: bytes) -> None:
        if self._left <= 0:
            return
        kept = chunk[: self._left]
        self._left -= len(kept)
        self._file.write(kept)
        if self._left <= 0:
            self.cut = True
            self._file.write(b"\n[... output truncated by Stomper; its tail follows ...]\n")
        self._file.flush()
        self._ended_with_newline = kept.endswith(b"\n")

    def close(self, result: ProcessResult | None = None) -> None:
        """With `result`, a cut log gets the tail of each stream (the end is what matters)."""
        if self._file.closed:
            return
        if self.cut and result is not None:
            for label, data in (("stdout", result.stdout), ("stderr", result.stderr)):
                tail = data[-self._tail :]
                if tail:
                    self._file.write(f"\n----- {label}, its end -----\n".encode() + tail)
            self._ended_with_newline = False
        if not self._ended_with_newline:
            self._file.write(b"\n")
        self._file.close()


async def run_attempt(
    agent: str,
    task: AgentTask,
    argv: Sequence[str],
    *,
    output_limit: int,
    env: Mapping[str, str] | None = None,
    detail: Callable[[ProcessResult], str] | None = None,
) -> AgentResult:
    """Run `argv` in `task.workdir` under `task.timeout`, log it, and say how it ended.

    A program that cannot start fails this attempt (exit_code None), not the whole run.
    `output_limit` is per stream; run_process keeps its head and tail.
    """
    watch = watch_for(agent)
    how = task.confinement.mechanism.label if task.confinement else "none"
    live = (
        LiveLog(task.log_path, AttemptRecord(agent, task.target, task.attempt, argv, "", None,
                                             how), output_limit)
        if task.log_path is not None else None
    )
    try:
        result = await run_process(
            argv, cwd=task.workdir, timeout=task.timeout, env=env, output_limit=output_limit,
            confinement=task.confinement, watch=watch, tee=live,
        )
    except OSError as exc:
        if live is not None:
            live.close()
        summary = f"could not start {argv[0]!r}: {exc.strerror or exc}"
        await append_attempt_log(
            task.log_path, AttemptRecord(agent, task.target, task.attempt, argv, summary),
            streamed=live is not None,
        )
        return AgentResult(exit_code=None, timed_out=False, summary=summary, error=summary,
                           hard=True)
    except BaseException:  # cancelled: what the agent said so far stays in its log
        if live is not None:
            live.close()
        raise
    summary = describe_ending(result, task.timeout)
    extra = detail(result) if detail is not None else ""
    if extra:
        summary += f" ({extra})"
    reading = read_run(agent, result)
    if result.stopped and watch is not None and watch.reason:
        summary = f"stopped by Stomper after {result.duration_s:.1f} s"
        reading = RunReading(watch.reason, reading.tokens, reading.usd)
    if reading.error:
        summary += f": {reading.error}"
    if live is not None:
        live.close(result)
    await append_attempt_log(
        task.log_path,
        AttemptRecord(agent, task.target, task.attempt, argv, summary, result, how),
        streamed=live is not None,
    )
    return AgentResult(
        exit_code=exit_code_of(result), timed_out=result.timed_out, summary=summary,
        error=reading.error, hard=reading.hard, tokens=reading.tokens, usd=reading.usd,
    )
