"""Which mechanism a run uses, and what each agent attempt of the run may write.

The strongest the machine supports is chosen (bubblewrap + Landlock, then either alone). With
none available, agents run only when the user opted in (`allow_unconfined` in their own config
or `--allow-unconfined`; never from a repository), and each attempt is then watched for
writes outside its sandbox instead (escapes.py).

What an attempt may write, and why:
- its worktree: the agent's job;
- the worktree's own admin folder in the shadow (`<shadow>/worktrees/<name>`: HEAD, index):
  without it even `git status` in the sandbox cannot refresh its index, and `git stash`,
  `checkout` or `reset` by an agent would fail; Stomper addresses it explicitly and resets
  it per attempt, so nothing there reaches another slot;
- NOT the shadow's objects, refs, config, hooks or info/: they are shared by every slot and
  read by Stomper's own git (a planted hook, filter or ref would act outside the sandbox).
  An agent's `git add`/`commit` therefore fails; agents are told not to commit anyway;
- a private temp folder (TMPDIR), emptied before each attempt;
- the state folders its CLI keeps (`state_dirs` on the agent, e.g. ~/.claude), created if
  missing, and the user's own `agent_writable_dirs`. An entry that is an existing file
  (`~/.claude.json`) is writable in place (it cannot be replaced by a rename: that needs
  write access to its folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stomper_lsp.confinement.spec import RUN_ID_ENV, RUN_OWNER_ENV, Confinement, Mechanism
from stomper_lsp.confinement.support import Support, detect_support

FORCE_ENV = "STOMPER_CONFINEMENT"
"""`auto` (default), `bwrap+landlock`, `bwrap`, `landlock` or `none`: pin the mechanism
(tests force `none` to prove the detection path on machines that can confine)."""
ALLOW_FLAG = "--allow-unconfined"
ALLOW_KEY = "allow_unconfined"


class ConfinementError(Exception):
    """Agents cannot run as asked; the message says why and what to do."""


def _best(support: Support) -> Mechanism:
    if support.bwrap and support.landlock:
        return Mechanism.BWRAP_LANDLOCK
    if support.bwrap:
        return Mechanism.BWRAP
    if support.landlock:
        return Mechanism.LANDLOCK
    return Mechanism.NONE


def _missing(mechanism: Mechanism, support: Support) -> list[str]:
    problems = []
    if mechanism.uses_bwrap and not support.bwrap:
        problems.append(support.bwrap_problem or "bubblewrap is not usable")
    if mechanism.uses_landlock and not support.landlock:
        problems.append("the kernel has no Landlock (Linux 5.13+, enabled in the LSM list)")
    return problems


def choose_mechanism(
    support: Support, *, allow_unconfined: bool, forced: str | None = None
) -> Mechanism:
    """The mechanism for a run; ConfinementError when agents must not run."""
    wanted = (forced or "auto").strip().lower()
    if wanted == "auto":
        mechanism = _best(support)
    else:
        try:
            mechanism = Mechanism(wanted)
        except ValueError:
            choices = ", ".join(["auto", *(m.value for m in Mechanism)])
            raise ConfinementError(
                f"{FORCE_ENV}={forced!r} is not a confinement mechanism; use one of {choices}."
            ) from None
        problems = _missing(mechanism, support)
        if problems:
            raise ConfinementError(
                f"{FORCE_ENV}={wanted} asks for a mechanism this machine lacks: "
                + "; ".join(problems) + f". Unset {FORCE_ENV} to use the best available."
            )
    if mechanism is Mechanism.NONE and not allow_unconfined:
        if wanted == "auto":
            why = "this machine offers no way to stop them writing outside their sandbox (" \
                + "; ".join(_missing(Mechanism.BWRAP_LANDLOCK, support)) \
                + "). Install bubblewrap or use a kernel with Landlock, or"
        else:
            why = f"{FORCE_ENV}=none switches confinement off. Unset it, or"
        raise ConfinementError(
            f"Refusing to run agents unconfined: {why} accept the risk with {ALLOW_FLAG} "
            f"(or `{ALLOW_KEY} = true` in your user config, or the editor setting "
            "`allowUnconfined`; a repository cannot set them). "
            "Unconfined attempts run one at a time and are rejected when anything outside "
            "their sandbox changes."
        )
    return mechanism


def _start_ticks() -> int:
    try:
        raw = Path(f"/proc/{os.getpid()}/stat").read_bytes()
        return int(raw[raw.rfind(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class RunConfinement:
    """Decided once per run; hands out one `Confinement` per attempt."""

    mechanism: Mechanism
    support: Support
    run_id: str
    extra_writable: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        return self.mechanism.label

    def for_attempt(
        self,
        *,
        worktree: Path,
        admin_dir: Path,
        private_tmp: Path,
        state_dirs: Iterable[Path] = (),
        readable: Sequence[Path] = (),
    ) -> Confinement:
        """The confinement of one attempt (agent or test command) in one sandbox."""
        states = [Path(os.path.expanduser(folder)) for folder in state_dirs]
        for folder in [private_tmp, *states]:
            if not folder.exists():  # an existing file (`~/.claude.json`) stays a file
                folder.mkdir(parents=True, exist_ok=True)
        extra = [folder for folder in self.extra_writable if folder.exists()]
        writable = tuple(dict.fromkeys(
            Path(os.path.realpath(folder))
            for folder in (worktree, admin_dir, private_tmp, *states, *extra)
        ))
        return Confinement(
            mechanism=self.mechanism,
            writable=writable,
            private_tmp=private_tmp,
            readable=tuple(Path(os.path.realpath(folder)) for folder in readable),
            landlock_abi=self.support.landlock_abi,
            bwrap=self.support.bwrap or "bwrap",
            marker={RUN_ID_ENV: self.run_id, RUN_OWNER_ENV: f"{os.getpid()}:{_start_ticks()}"},
        )


async def confinement_for_run(
    run_id: str,
    *,
    allow_unconfined: bool,
    extra_writable: Sequence[str | Path] = (),
) -> RunConfinement:
    """Detect what the machine offers and decide the run's mechanism (or refuse)."""
    support = await detect_support()
    mechanism = choose_mechanism(
        support, allow_unconfined=allow_unconfined, forced=os.environ.get(FORCE_ENV)
    )
    extra = tuple(Path(os.path.expanduser(str(folder))) for folder in extra_writable)
    return RunConfinement(mechanism, support, run_id, extra)
