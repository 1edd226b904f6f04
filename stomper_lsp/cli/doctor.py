"""`stomper doctor`: what this machine offers to confine agents, and what a fix run would use."""

from __future__ import annotations

import json
from typing import TextIO

from stomper_lsp.cli.exit_codes import EXIT_CLEAN, EXIT_ISSUES
from stomper_lsp.config import StomperConfig
from stomper_lsp.confinement import (
    FORCE_ENV,
    ConfinementError,
    Mechanism,
    choose_mechanism,
    detect_support,
)


async def run_doctor(config: StomperConfig, *, forced: str | None, as_json: bool,
                     out: TextIO) -> int:
    """Exit 0 when agents can run (confined, or unconfined by the user's choice), else 1."""
    support = await detect_support()
    try:
        mechanism: Mechanism | None = choose_mechanism(
            support, allow_unconfined=config.allow_unconfined, forced=forced
        )
        problem = ""
    except ConfinementError as exc:
        mechanism, problem = None, str(exc)
    facts = {
        "landlock_abi": support.landlock_abi,
        "bwrap": support.bwrap,
        "bwrap_problem": support.bwrap_problem,
        "forced": forced,
        "confinement": mechanism.label if mechanism else None,
        "problem": problem,
    }
    if as_json:
        json.dump(facts, out, indent=2)
        out.write("\n")
    else:
        landlock = f"yes (ABI {support.landlock_abi})" if support.landlock else "no"
        bwrap = support.bwrap or f"no ({support.bwrap_problem})"
        print(f"Landlock:     {landlock}", file=out)
        print(f"bubblewrap:   {bwrap}", file=out)
        if forced:
            print(f"forced by:    {FORCE_ENV}={forced}", file=out)
        if mechanism is None:
            print(f"agents:       refused to run. {problem}", file=out)
        elif mechanism is Mechanism.NONE:
            print("agents:       UNCONFINED (you opted in): each attempt runs alone and is "
                  "rejected when files outside its sandbox change", file=out)
        else:
            print(f"agents:       confined by {mechanism.label}: they write only their "
                  "sandbox, a private TMPDIR and their CLI's state folders", file=out)
    return EXIT_CLEAN if mechanism is not None else EXIT_ISSUES
