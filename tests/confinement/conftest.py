"""What this machine can confine with, probed once: tests of a mechanism it lacks skip."""

from __future__ import annotations

import asyncio

import pytest

from stomper_lsp.confinement import Mechanism, Support, detect_support

_support = asyncio.run(detect_support())


def machine_support() -> Support:
    return _support


def available(mechanism: Mechanism) -> bool:
    if mechanism is Mechanism.NONE:
        return True
    return (not mechanism.uses_bwrap or bool(_support.bwrap)) and (
        not mechanism.uses_landlock or _support.landlock
    )


def mechanisms() -> list[object]:
    """Every confining mechanism, skipped (with the reason) where this machine lacks it."""
    return [
        pytest.param(
            m, id=m.value,
            marks=pytest.mark.skipif(
                not available(m),
                reason=f"{m.value} unavailable here: {_support.bwrap_problem or 'no Landlock'}",
            ),
        )
        for m in Mechanism
        if m is not Mechanism.NONE
    ]
