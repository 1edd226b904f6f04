"""The run's merged result: accepted file results land here, one at a time, under one lock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from stomper_lsp.merging.three_way import merge_texts
from stomper_lsp.workflow.gauges import ConcurrencyGauge


@dataclass
class MergeOutcome:
    conflicts: list[str]

    @property
    def clean(self) -> bool:
        return not self.conflicts


@dataclass
class RunResult:
    """Texts of every file the run changed, plus the snapshot text they started from."""

    base_texts: dict[str, str | None] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    gauge: ConcurrencyGauge = field(default_factory=ConcurrencyGauge)

    async def merge(
        self, base: Mapping[str, str | None], new: Mapping[str, str]
    ) -> MergeOutcome:
        """3-way merge one file result (`base` -> `new` per path) into the run's result.

        All or nothing: if any path conflicts with what earlier results changed, none of
        this result is applied. This is the only serialized step of a run.
        """
        async with self.lock:
            with self.gauge.track():
                merged: dict[str, str] = {}
                conflicts: list[str] = []
                for path, new_text in new.items():
                    base_text = base.get(path) or ""
                    current = self.texts.get(path, base_text)
                    result = await merge_texts(base_text, current, new_text)
                    if result.clean:
                        merged[path] = result.text
                    else:
                        conflicts.append(path)
                if conflicts:
                    return MergeOutcome(conflicts)
                for path, text in merged.items():
                    self.base_texts.setdefault(path, base.get(path))
                    self.texts[path] = text
                return MergeOutcome([])
