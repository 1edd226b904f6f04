"""Each CLI's own account of a failed run, read into one error line, hardness and cost.

The outputs below are what the installed CLIs printed against tests/agents/model_server.py
(test_real_clis.py runs them for real); here they pin the readers and the run's breaker.
"""

from __future__ import annotations

import json

from stomper_lsp.agents.failures import AiderRetryWatch, ClaudeRetryWatch, read_run
from stomper_lsp.process import ProcessResult
from stomper_lsp.workflow.circuit_breaker import CircuitBreaker


def result(returncode: int, stdout: str = "", stderr: str = "") -> ProcessResult:
    return ProcessResult(("cli",), returncode, stdout.encode(), stderr.encode(), False, 1.0,
                         False)


def test_claude_result_event_names_the_error_and_cost() -> None:
    event = {"type": "result", "subtype": "success", "is_error": True,
             "result": "Not logged in · Please run /login", "total_cost_usd": 0.25,
             "usage": {"input_tokens": 100, "output_tokens": 20}}
    reading = read_run("claude", result(1, json.dumps(event) + "\n"))
    assert reading.error == "Not logged in · Please run /login"
    assert reading.hard and (reading.tokens, reading.usd) == (120, 0.25)


def test_codex_turn_failed_and_usage() -> None:
    lines = [{"type": "turn.completed", "usage": {"input_tokens": 7, "output_tokens": 3}},
             {"type": "turn.failed", "error": {"message": "unexpected status 401 Unauthorized"}}]
    reading = read_run("codex", result(1, "\n".join(json.dumps(x) for x in lines)))
    assert reading.error == "unexpected status 401 Unauthorized"
    assert reading.hard and reading.tokens == 10


def test_codex_server_error_is_not_hard() -> None:
    event = {"type": "error", "message": "unexpected status 500 Internal Server Error"}
    reading = read_run("codex", result(1, json.dumps(event)))
    assert reading.error and not reading.hard


def test_gemini_exit_41_says_which_key() -> None:
    said = "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.\n"
    reading = read_run("gemini", result(41, stderr=said))
    assert reading.error is not None and "GEMINI_API_KEY" in reading.error
    assert reading.error.startswith("authentication failed") and reading.hard


def test_aider_error_with_exit_zero_and_its_cost() -> None:
    out = ("Tokens: 2.1k sent, 30 received. Cost: $0.01 message, $0.01 session.\n"
           "litellm.AuthenticationError: AuthenticationError: OpenAIException - invalid\n")
    reading = read_run("aider", result(0, out))
    assert reading.error is not None and reading.error.startswith("litellm.Authentication")
    assert reading.hard and (reading.tokens, reading.usd) == (2130, 0.01)


def test_a_clean_aider_run_reads_no_error() -> None:
    assert read_run("aider", result(0, "Applied edit to mod.py\n")).error is None


def test_claude_watch_stops_at_a_401_retry_at_once() -> None:
    watch = ClaudeRetryWatch()
    retry = {"type": "system", "subtype": "api_retry", "attempt": 1, "error_status": 401,
             "error": "authentication_failed"}
    assert watch(json.dumps(retry).encode()[:20]) is False  # half a line: not yet
    assert watch(json.dumps(retry).encode()[20:] + b"\n") is True
    assert watch.reason is not None and "401" in watch.reason


def test_aider_watch_stops_after_three_retries() -> None:
    watch = AiderRetryWatch()
    chunk = (b"litellm.InternalServerError: InternalServerError: OpenAIException - boom\n"
             b"Retrying in 0.2 seconds...\n")
    assert not watch(chunk) and not watch(chunk)
    assert watch(chunk)
    assert watch.reason is not None and "InternalServerError" in watch.reason
    assert "3 retries" in watch.reason


def test_breaker_trips_when_the_first_files_agree() -> None:
    breaker = CircuitBreaker.for_run(parallel=4, files=32)
    for n in range(3):
        breaker.record(f"HTTP 401 after {n}.{n} s")
        assert breaker.tripped is None
    breaker.record("HTTP 401 after 9.1 s")
    assert breaker.tripped is not None and "HTTP 401" in breaker.tripped


def test_breaker_holds_when_one_first_file_worked_or_differs() -> None:
    worked = CircuitBreaker.for_run(parallel=2, files=8)
    worked.record("HTTP 401")
    worked.record(None)
    differs = CircuitBreaker.for_run(parallel=2, files=8)
    differs.record("HTTP 401")
    differs.record("timeout")
    single = CircuitBreaker.for_run(parallel=4, files=1)
    single.record("HTTP 401")
    assert (worked.tripped, differs.tripped, single.tripped) == (None, None, None)


def test_breaker_ignores_session_ids() -> None:
    breaker = CircuitBreaker.for_run(parallel=2, files=8)
    breaker.record("killed: session 3f2a9c1e-1b2c-4d5e-a6b7-0123456789ab, error")
    breaker.record("killed: session 9e8d7c6b-aa11-4c22-b333-fedcba987654, error")
    assert breaker.tripped is not None


def test_a_timed_out_claude_run_takes_no_event_for_its_error() -> None:
    init = {"type": "system", "subtype": "init", "tools": ["error_reporter"]}
    killed = ProcessResult(("claude",), -9, json.dumps(init).encode(), b"", True, 10.0, False)
    assert read_run("claude", killed).error is None
