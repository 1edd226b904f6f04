"""A wide `Send` fan-out behind `max_concurrency` costs O(1) per finished branch: LangGraph's
runner no longer `asyncio.wait`s on every parked branch after each completion (quadratic:
10,000 files cost 64 ms of coordinator CPU each). Results, errors and cancels stay LangGraph's."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterable
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from stomper_lsp.workflow import langgraph_fixes

langgraph_fixes.apply()


class _State(TypedDict):
    items: list[int]
    done: Annotated[list[int], operator.add]


def _graph(work: Any) -> CompiledStateGraph[Any]:
    async def collect(state: _State) -> dict[str, Any]:
        return {}

    def fan_out(state: _State) -> list[Send]:
        return [Send("work", {"items": [i], "done": []}) for i in state["items"]]

    graph = StateGraph(_State)
    graph.add_node("collect", collect)
    graph.add_node("work", work)
    graph.add_edge(START, "collect")
    graph.add_conditional_edges("collect", fan_out, ["work"])
    graph.add_edge("work", END)
    return graph.compile()


@pytest.fixture
def waits_over(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many futures each `asyncio.wait(..., FIRST_COMPLETED)` call was handed."""
    sizes: list[int] = []
    real = asyncio.wait

    async def counting(fs: Iterable[Any], **kwargs: Any) -> Any:
        fs = list(fs) if not isinstance(fs, dict) else fs
        if kwargs.get("return_when") == asyncio.FIRST_COMPLETED:
            sizes.append(len(fs))
        return await real(fs, **kwargs)

    monkeypatch.setattr(asyncio, "wait", counting)
    return sizes


async def test_parked_branches_are_not_waited_on_one_by_one(waits_over: list[int]) -> None:
    running = 0
    peak = 0

    async def work(state: _State) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return {"done": state["items"]}

    result = await _graph(work).ainvoke({"items": list(range(300)), "done": []},
                                        config={"max_concurrency": 3})
    assert sorted(result["done"]) == list(range(300))
    assert peak == 3
    # Unpatched, the runner hands all 300 parked futures to asyncio.wait about 300 times.
    assert not [size for size in waits_over if size > 3], waits_over[:5]


async def test_a_failing_branch_still_fails_the_run() -> None:
    async def work(state: _State) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        if state["items"] == [7]:
            raise ValueError("branch 7 broke")
        return {"done": state["items"]}

    with pytest.raises(ValueError, match="branch 7 broke"):
        await _graph(work).ainvoke({"items": list(range(40)), "done": []},
                                   config={"max_concurrency": 4})


async def test_cancelling_the_run_stops_every_branch() -> None:
    started: list[int] = []

    async def work(state: _State) -> dict[str, Any]:
        started.extend(state["items"])
        await asyncio.sleep(30)
        return {"done": state["items"]}

    run = asyncio.ensure_future(_graph(work).ainvoke({"items": list(range(50)), "done": []},
                                                     config={"max_concurrency": 2}))
    while len(started) < 2:
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)
    await asyncio.sleep(0.05)
    assert len(started) == 2


async def test_a_step_timeout_still_times_out() -> None:
    async def work(state: _State) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {"done": state["items"]}

    graph = _graph(work)
    graph.step_timeout = 0.2
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(
            graph.ainvoke({"items": list(range(10)), "done": []}, config={"max_concurrency": 2}),
            10,
        )
