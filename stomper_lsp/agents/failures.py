"""How an agent CLI's run went, in its own words: the error it reported, and what it cost.

Exit codes lie both ways: Aider exits 0 after an HTTP 401, Claude and Codex exit 1 for
anything. So each CLI's own output is read for its last error (Claude's stream-json
`result`, Codex's `turn.failed`/`error` events, Gemini's stderr, Aider's printed
exceptions) and its reported usage. A failure is *hard* when no retry can help (a missing
or rejected key, a model that does not exist, a broken configuration): the engine then
neither retries the file nor, once the first files agree, starts the queued ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stomper_lsp.process import ProcessResult

_HARD = re.compile(
    r"\b(401|403|unauthori[sz]ed|authenticat\w*|invalid[ _-]?api[ _-]?key|api[ _-]?key"
    r"|permission[ _-]denied|forbidden|not[ _-]?found[ _-]?error|model[^\n]{0,40}not "
    r"(?:found|exist)|does not exist|invalid auth|no (?:model|api key)|credit balance"
    r"|quota|billing|not logged in|missing environment variable"
    r"|must specify the \w+ environment variable)\b",
    re.IGNORECASE,
)
_ERROR_LINE = re.compile(
    r"(error|exception|failed|unauthori[sz]ed|denied|invalid|refused|timed out|traceback)",
    re.IGNORECASE,
)
_AIDER_COST = re.compile(
    r"Tokens:\s*([\d.]+)(k?)\s*sent,\s*([\d.]+)(k?)\s*received\.(?:\s*Cost:\s*\$([\d.]+))?"
)
_MAX_LINE = 300


@dataclass(frozen=True)
class RunReading:
    """What the CLI said about its own run."""

    error: str | None = None
    """Its last error line, if it reported one (even with exit 0)."""
    tokens: int | None = None
    usd: float | None = None

    @property
    def hard(self) -> bool:
        return self.error is not None and _HARD.search(self.error) is not None


def _json_lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


def _last_error_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if _ERROR_LINE.search(line)]
    return _short(lines[-1]) if lines else None


def read_claude(result: ProcessResult) -> RunReading:
    """`--output-format stream-json`: the final `result` event carries `is_error`, the
    message, the cost and the usage."""
    error = None
    tokens = usd = None
    for event in _json_lines(result.stdout_text):
        if event.get("type") == "result":
            usage = event.get("usage") or {}
            counted = [usage.get(k) for k in ("input_tokens", "output_tokens")]
            tokens = sum(int(v) for v in counted if isinstance(v, int)) or None
            cost = event.get("total_cost_usd")
            usd = float(cost) if isinstance(cost, int | float) else None
            if event.get("is_error") or event.get("subtype", "success") != "success":
                error = _short(str(event.get("result") or event.get("subtype") or "error"))
    if error is None and result.returncode != 0 and not result.timed_out:
        # Not its stream-json events: any of them may say "error" (a tool's output).
        error = _last_error_line(result.stderr_text)
    return RunReading(error, tokens, usd)


def read_codex(result: ProcessResult) -> RunReading:
    """`codex exec --json`: `turn.failed` / `error` events, usage on `turn.completed`."""
    error = None
    tokens = 0
    for event in _json_lines(result.stdout_text):
        kind = event.get("type")
        if kind == "turn.failed":
            detail = event.get("error") or {}
            error = _short(str(detail.get("message") if isinstance(detail, dict) else detail))
        elif kind == "error":
            error = _short(str(event.get("message") or "error"))
        elif kind == "turn.completed":
            usage = event.get("usage") or {}
            tokens += sum(
                int(usage.get(k) or 0) for k in ("input_tokens", "output_tokens")
            )
    if error is None and result.returncode != 0:
        error = _last_error_line(result.stderr_text) or _last_error_line(result.stdout_text)
    return RunReading(error, tokens or None, None)


def read_plain(result: ProcessResult) -> RunReading:
    """Gemini and custom commands: a non-zero exit, explained by the last error line (a
    timeout or a signal says enough in the summary already)."""
    if result.returncode <= 0 or result.timed_out:
        return RunReading()
    return RunReading(
        _last_error_line(result.stderr_text) or _last_error_line(result.stdout_text)
        or f"exit {result.returncode}"
    )


def read_aider(result: ProcessResult) -> RunReading:
    """Aider exits 0 whatever happened: its printed litellm exceptions are the failure."""
    text = result.stdout_text + "\n" + result.stderr_text
    error = None
    for line in text.splitlines():
        if re.search(r"(litellm\.\w*Error|APIError|AuthenticationError|APIConnectionError"
                     r"|RateLimitError|NotFoundError|BadRequestError|InternalServerError"
                     r"|Timeout)", line):
            error = _short(line)
    if error is None and result.returncode != 0:
        error = _last_error_line(text) or f"exit {result.returncode}"
    tokens = usd = None
    for match in _AIDER_COST.finditer(text):
        sent = float(match[1]) * (1000 if match[2] else 1)
        received = float(match[3]) * (1000 if match[4] else 1)
        tokens = (tokens or 0) + int(sent + received)
        if match[5]:
            usd = (usd or 0.0) + float(match[5])
    return RunReading(error, tokens, usd)


_GEMINI_API_ERROR = re.compile(r"ApiError: (.+)")
_GEMINI_STATUS = re.compile(r"^\s*status: (\d{3})\s*$", re.MULTILINE)


_GEMINI_FATAL = {41: "authentication failed", 52: "invalid configuration"}
"""Gemini CLI's documented fatal exit codes (FatalAuthenticationError, FatalConfigError)."""


def read_gemini(result: ProcessResult) -> RunReading:
    """Gemini prints the API's error object (and its HTTP status) before a generic line."""
    if result.returncode <= 0 or result.timed_out:
        return RunReading()
    text = result.stderr_text + "\n" + result.stdout_text
    errors = _GEMINI_API_ERROR.findall(text)
    statuses = _GEMINI_STATUS.findall(text)
    if errors:
        status = f"HTTP {statuses[-1]}: " if statuses else ""
        return RunReading(_short(status + errors[-1]))
    if result.returncode in _GEMINI_FATAL:  # its own words, which name no "error"
        said = next((line.strip() for line in result.stderr_text.splitlines() if line.strip()),
                    "")
        return RunReading(_short(f"{_GEMINI_FATAL[result.returncode]}: {said}".rstrip(": ")))
    return read_plain(result)


READERS = {
    "claude": read_claude, "codex": read_codex, "gemini": read_gemini, "aider": read_aider,
}


def read_run(agent: str, result: ProcessResult) -> RunReading:
    return READERS.get(agent, read_plain)(result)


class ClaudeRetryWatch:
    """Claude Code retries a rejected key for minutes (10 times, backing off), saying so as
    it goes in stream-json (`api_retry` events). A 401/403 will not heal: stop at once; a
    server error that three retries did not clear: stop too, and let the verdict say why."""

    RETRIES_BEFORE_GIVING_UP = 3

    def __init__(self) -> None:
        self._pending = b""
        self.reason: str | None = None

    def __call__(self, chunk: bytes) -> bool:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            if b"api_retry" not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            status = event.get("error_status")
            attempt = event.get("attempt") or 0
            if not isinstance(status, int):
                continue
            if status in (401, 403) or (status >= 500 and attempt >= self.RETRIES_BEFORE_GIVING_UP):
                detail = event.get("error") or "error"
                self.reason = (
                    f"HTTP {status} ({detail}) from the model endpoint"
                    + (f", still after {attempt} retries" if status >= 500 else "")
                )
                return True
        return False


class AiderRetryWatch:
    """Aider (litellm) retries a failing endpoint with doubling pauses up to a minute each,
    printing the exception and `Retrying in N seconds...`: after three, stop and say why."""

    RETRIES_BEFORE_GIVING_UP = 3

    def __init__(self) -> None:
        self._pending = b""
        self._retries = 0
        self._last_error: str | None = None
        self.reason: str | None = None

    def __call__(self, chunk: bytes) -> bool:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith("litellm.") and "Error" in line:
                self._last_error = _short(line)
            elif line.startswith("Retrying in "):
                self._retries += 1
                if self._retries >= self.RETRIES_BEFORE_GIVING_UP:
                    self.reason = (f"{self._last_error or 'the model endpoint failed'}, "
                                   f"still after {self._retries} retries")
                    return True
        return False


def watch_for(agent: str) -> ClaudeRetryWatch | AiderRetryWatch | None:
    """A live watch on the CLI's output that ends a hopeless run early, where one exists."""
    if agent == "claude":
        return ClaudeRetryWatch()
    return AiderRetryWatch() if agent == "aider" else None
