"""Agents confined by the kernel: they write only their sandbox, a private temp folder and
their CLI's state folders, and their whole process tree dies with the attempt.

Entry point: `confinement_for_run(...)` once per run, then `RunConfinement.for_attempt(...)`
per agent attempt; pass the result to `run_process(..., confinement=...)`. `detect_support()`
says what the machine offers (for `stomper doctor`).
"""

from stomper_lsp.confinement.policy import (
    ALLOW_FLAG,
    ALLOW_KEY,
    FORCE_ENV,
    ConfinementError,
    RunConfinement,
    choose_mechanism,
    confinement_for_run,
)
from stomper_lsp.confinement.spec import Confinement, Mechanism
from stomper_lsp.confinement.support import Support, detect_support

__all__ = [
    "ALLOW_FLAG",
    "ALLOW_KEY",
    "FORCE_ENV",
    "Confinement",
    "ConfinementError",
    "Mechanism",
    "RunConfinement",
    "Support",
    "choose_mechanism",
    "confinement_for_run",
    "detect_support",
]
