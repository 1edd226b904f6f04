"""LangGraph's fan-out cost per branch as a run grows, with and without Stomper's fix.

    .venv/bin/python benchmarks/fanout.py [--sizes 500,2000,8000] [--k 4]

A graph like the fix graph (collect, one `Send` per item, `max_concurrency` k), each branch
sleeping 0.5 ms. Prints CPU per branch for each size, in a fresh process each time: LangGraph
as released, then with `stomper_lsp.workflow.langgraph_fixes` applied (the completion feed).
Results go in docs/performance.md ("Ray executor").
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import subprocess
import sys
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send


class _State(TypedDict):
    items: list[int]
    done: Annotated[list[int], operator.add]


async def _one(size: int, k: int) -> float:
    async def collect(state: _State) -> dict[str, Any]:
        return {}

    def fan_out(state: _State) -> list[Send]:
        return [Send("work", {"items": [i], "done": []}) for i in state["items"]]

    async def work(state: _State) -> dict[str, Any]:
        await asyncio.sleep(0.0005)
        return {"done": state["items"]}

    graph = StateGraph(_State)
    graph.add_node("collect", collect)
    graph.add_node("work", work)
    graph.add_edge(START, "collect")
    graph.add_conditional_edges("collect", fan_out, ["work"])
    graph.add_edge("work", END)
    app = graph.compile()
    cpu = time.process_time()
    result = await app.ainvoke({"items": list(range(size)), "done": []},
                               config={"max_concurrency": k})
    assert len(result["done"]) == size
    return (time.process_time() - cpu) / size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500,2000,8000")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--child", nargs=3, metavar=("SIZE", "K", "PATCHED"))
    args = parser.parse_args()
    if args.child:
        size, k, patched = int(args.child[0]), int(args.child[1]), args.child[2] == "1"
        if patched:
            from stomper_lsp.workflow import langgraph_fixes

            langgraph_fixes.apply()
        print(asyncio.run(_one(size, k)))
        return
    print(f"{'branches':>9} {'as released':>14} {'with the fix':>14}   "
          f"(CPU per branch, k={args.k})")
    for size in (int(s) for s in args.sizes.split(",")):
        row = []
        for patched in ("0", "1"):
            out = subprocess.run([sys.executable, __file__, "--child", str(size), str(args.k),
                                  patched], capture_output=True, text=True, check=True).stdout
            row.append(float(out.strip().splitlines()[-1]) * 1000)
        print(f"{size:>9} {row[0]:>11.3f} ms {row[1]:>11.3f} ms")


if __name__ == "__main__":
    main()
