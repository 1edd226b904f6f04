"""The breaker stops a run whose agent cannot work, and never holds up a healthy one."""

from __future__ import annotations

import asyncio

from stomper_lsp.workflow.circuit_breaker import CircuitBreaker


async def test_a_dead_endpoint_holds_the_next_files_until_the_first_wave_agrees() -> None:
    breaker = CircuitBreaker.for_run(parallel=4, files=32)
    assert [await breaker.gate() for _ in range(4)] == [None] * 4  # the first wave runs
    breaker.record("HTTP 401 (authentication_failed) from the model endpoint")
    fifth = asyncio.ensure_future(breaker.gate())
    await asyncio.sleep(0.01)
    assert not fifth.done()  # waits: one agent failure, wave not complete
    for _ in range(3):
        breaker.record("HTTP 401 (authentication_failed) from the model endpoint")
    assert (await fifth) is not None and "401" in (await fifth or "")
    assert breaker.tripped is not None


async def test_one_file_that_ran_opens_the_gate_for_good() -> None:
    breaker = CircuitBreaker.for_run(parallel=2, files=10)
    await breaker.gate()
    await breaker.gate()
    breaker.record("exit 1: some crash")
    breaker.record(None)  # this one ran (whatever its verdict)
    assert await asyncio.wait_for(breaker.gate(), 1) is None
    assert breaker.tripped is None


async def test_one_at_a_time_never_waits_on_itself() -> None:
    breaker = CircuitBreaker.for_run(parallel=1, files=3)
    assert await asyncio.wait_for(breaker.gate(), 1) is None
    breaker.record("killed after the 10 s timeout")
    assert await asyncio.wait_for(breaker.gate(), 1) is None  # second of the wave of 2
    breaker.record("killed after the 12 s timeout")  # numbers differ, same failure
    assert await asyncio.wait_for(breaker.gate(), 1) is not None
