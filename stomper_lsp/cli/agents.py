"""`stomper agents`: per agent CLI, found or not, version, flags, model configured, what to do."""

from __future__ import annotations

import json
from typing import TextIO

from stomper_lsp.agents.inspection import inspect_agents
from stomper_lsp.cli.exit_codes import EXIT_CLEAN, EXIT_ISSUES


async def run_agents(*, as_json: bool, out: TextIO) -> int:
    """Exit 0 when at least one agent CLI is ready to run, else 1."""
    found = await inspect_agents()
    if as_json:
        json.dump([agent.as_dict() for agent in found], out, indent=2)
        out.write("\n")
    else:
        for agent in found:
            state = "ready" if agent.ready else "not ready"
            print(f"{agent.name}: {state}", file=out)
            print(f"  binary:   {agent.path or agent.binary + ' (not found)'}", file=out)
            if agent.path:
                print(f"  version:  {agent.version or 'unknown'}", file=out)
                print(f"  flags:    {'compatible' if agent.flags_compatible else 'incompatible'}",
                      file=out)
            print(f"  model:    {'configured' if agent.endpoint_configured else 'none'}",
                  file=out)
            for problem in agent.problems:
                print(f"  fix:      {problem}", file=out)
    return EXIT_CLEAN if any(agent.ready for agent in found) else EXIT_ISSUES
