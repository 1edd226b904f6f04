"""A wide `Send` fan-out behind `max_concurrency` costs O(1) per finished branch: LangGraph's
runner no longer `asyncio.wait`s on every parked branch after each completion (quadratic:
10,000 files cost 64 ms of coordinator CPU each), nor rebuilds the step's pending writes for
each branch's first writes. Results, errors and cancels stay LangGraph's."""

from __future__ import annotations

import asyncio
import operator
import sys
from collections.abc import Iterable
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel import _loop
from langgraph.types import Send

from stomper_lsp.workflow import langgraph_fixes

langgraph_fixes.apply()


class _State(TypedDict):
    items: list[int]
    done: Annotated[list[int], operator.add]


def _graph(work: Any, checkpointer: Any = None) -> CompiledStateGraph[Any]:
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
    return graph.compile(checkpointer=checkpointer)


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


@pytest.fixture
def pending_in_hand(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pending writes LangGraph's own `put_writes` held each time it ran (it
    rebuilds that list): read from its frame when it calls `ensure_message_ids`."""
    sizes: list[int] = []
    real = _loop.ensure_message_ids

    def spying(specs: Any, writes: Any) -> Any:
        caller = sys._getframe(1)
        if caller.f_code.co_name == "put_writes":
            sizes.append(len(caller.f_locals["self"].checkpoint_pending_writes))
        return real(specs, writes)

    monkeypatch.setattr(_loop, "ensure_message_ids", spying)
    return sizes


async def _finish(state: _State) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"done": state["items"]}


async def test_a_branchs_writes_do_not_rebuild_every_earlier_write(
    pending_in_hand: list[int],
) -> None:
    result = await _graph(_finish).ainvoke({"items": list(range(300)), "done": []},
                                           config={"max_concurrency": 4})
    assert sorted(result["done"]) == list(range(300))
    assert len(pending_in_hand) >= 300
    # Unpatched, the 300th branch's writes rebuild a list holding the 299 before them.
    assert max(pending_in_hand) == 0, pending_in_hand[-5:]


async def test_with_a_checkpointer_langgraph_keeps_its_own_bookkeeping(
    pending_in_hand: list[int],
) -> None:
    graph = _graph(_finish, checkpointer=InMemorySaver())
    config: Any = {"max_concurrency": 4, "configurable": {"thread_id": "t"}}
    result = await graph.ainvoke({"items": list(range(30)), "done": []}, config=config)
    assert sorted(result["done"]) == list(range(30))
    assert max(pending_in_hand) >= 29  # the patch stood aside
    saved = await graph.aget_state(config)
    assert sorted(saved.values["done"]) == list(range(30))


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
