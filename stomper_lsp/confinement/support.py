"""What this machine offers to confine agents: Landlock, bubblewrap, both or neither.

Probed once per process and cached. bubblewrap is only counted when it really starts a
sandbox here: a binary on PATH is not enough where the distribution forbids unprivileged user
namespaces (Ubuntu 24.04's AppArmor policy, `kernel.unprivileged_userns_clone=0`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from stomper_lsp.confinement.launcher import landlock_abi
from stomper_lsp.process import run_process

_PROBE_TIMEOUT_S = 10.0
BWRAP_BASE_ARGS: tuple[str, ...] = (
    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
    "--unshare-pid", "--die-with-parent", "--new-session",
)


@dataclass(frozen=True)
class Support:
    landlock_abi: int
    """0: no Landlock (kernel too old, or disabled at boot)."""
    bwrap: str | None
    """Path of a bubblewrap that starts a PID-namespace sandbox here; None otherwise."""
    bwrap_problem: str = ""
    """Why bubblewrap is not usable (missing, or what it said when probed)."""

    @property
    def landlock(self) -> bool:
        return self.landlock_abi > 0


_cached: Support | None = None


async def probe_bwrap(binary: str | None = None) -> tuple[str | None, str]:
    """(path, "") when `bwrap` starts a sandbox with a PID namespace here, else (None, why)."""
    found = binary or shutil.which("bwrap")
    if found is None:
        return None, "bubblewrap (bwrap) is not installed"
    true = shutil.which("true") or "/bin/true"
    try:
        result = await run_process(
            [found, *BWRAP_BASE_ARGS, "--", true], cwd="/", timeout=_PROBE_TIMEOUT_S
        )
    except OSError as exc:
        return None, f"{found} cannot start: {exc.strerror or exc}"
    if result.returncode != 0:
        said = result.stderr_text.strip().splitlines()
        why = said[-1] if said else f"exit {result.returncode}"
        return None, f"{found} cannot create a sandbox here ({why}); user namespaces are " \
            "probably restricted (AppArmor or kernel.unprivileged_userns_clone)"
    return found, ""


async def detect_support(*, refresh: bool = False) -> Support:
    """The machine's confinement support, probed once per process."""
    global _cached
    if _cached is None or refresh:
        # Two concurrent first calls both probe: harmless, and no lock outlives its loop.
        bwrap, problem = await probe_bwrap()
        _cached = Support(landlock_abi(), bwrap, problem)
    return _cached
