"""How fast a run against a dead model endpoint stops, and Stomper's overhead per fix.

    .venv/bin/python benchmarks/agents_dead_endpoint.py [--agents claude,codex] [--files 32]

Drives the real agent CLIs through tests/agents/model_server.py (a scripted model on
127.0.0.1), each in a throw-away HOME. Prints, per CLI:
- one agent's own failure time against HTTP 401 and against a server that never answers
  (`--hang-timeout` stands in for the agent timeout there);
- the wall time of `stomper fix` over `--files` broken files, k=4, against each: the run
  must stop its queued files (target: at most 2x one agent's own failure time);
- one fix through `stomper fix` versus the same CLI run by hand on the same file.
Prints figures; asserts nothing. Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stomper_lsp.agents.presets import INSTRUCTION, PRESETS
from tests.agents.model_server import AIDER, ModelServer, Script, cli_environment

STOMPER = str(Path(sys.executable).parent / "stomper")
BROKEN = "import os\n\n\ndef f() -> int:\n    return 1\n"
PYPROJECT = '[tool.ruff]\nline-length = 100\n[tool.ruff.lint]\nselect = ["F"]\n'
PROMPT = "# Fix 1 issue in `mod0.py`\n\n1. line 1, ruff `F401`: `os` imported but unused\n"


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in {**os.environ, **extra}.items() if v}


def _repo(where: Path, files: int) -> Path:
    root = where / "repo"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for n in range(files):
        (root / f"mod{n}.py").write_text(BROKEN)
    for argv in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b",
                                                 "commit", "-qm", "init"]):
        subprocess.run(["git", *argv], cwd=root, check=True)
    return root


def _fix(root: Path, agent: str, env: dict[str, str], timeout: float) -> float:
    started = time.monotonic()
    subprocess.run([STOMPER, "fix", "--json", "--agent", agent, "--tools", "ruff",
                    "--max-parallel-files", "4", "--agent-timeout", f"{timeout:g}"],
                   cwd=root, env=_env(env), capture_output=True, check=False, timeout=3600)
    return time.monotonic() - started


def _by_hand(root: Path, agent: str, env: dict[str, str], timeout: float) -> float:
    """The preset's own argv, run once in the project, the prompt beside it."""
    prompt = root.parent / "prompt" / "fix.md"
    prompt.parent.mkdir(exist_ok=True)
    prompt.write_text(PROMPT)
    binary = AIDER if agent == "aider" else shutil.which(agent) or agent
    values = {"{prompt_file}": str(prompt), "{prompt_dir}": str(prompt.parent),
              "{file}": "mod0.py", "{workdir}": str(root)}
    argv = [binary]
    swapped = dict(PRESETS[agent].when_confined)  # as Stomper runs it (Codex: its own
    # bubblewrap sandbox off, which cannot work inside a container either)
    for arg in (swapped.get(a, a) for a in PRESETS[agent].arguments):
        if arg == INSTRUCTION:
            arg = INSTRUCTION.format(prompt_file=prompt)
        for key, value in values.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=root, env=_env(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:  # the whole tree: Node CLIs run a native child
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()
    return time.monotonic() - started


def measure(agent: str, files: int, hang_timeout: float) -> None:
    for mode in ("401", "hang"):
        script = Script(mode=mode)
        with ModelServer(script) as url, tempfile.TemporaryDirectory() as tmp:
            where = Path(tmp)
            env = cli_environment(agent, where / "home", url, "sk-bench")
            alone = _by_hand(_repo(where / "one", 1), agent, env, hang_timeout)
            run = _fix(_repo(where / "many", files), agent, env, hang_timeout)
            print(f"{agent:7} {mode:5} one agent fails in {alone:6.1f} s; "
                  f"stomper fix, {files} files, k=4, stops in {run:6.1f} s "
                  f"({run / alone:4.1f}x)", flush=True)
    script = Script()
    with ModelServer(script) as url, tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        env = cli_environment(agent, where / "home", url, "sk-bench")
        alone = _by_hand(_repo(where / "one", 1), agent, env, 120)
        through = _fix(_repo(where / "two", 1), agent, env, 120)
        print(f"{agent:7} fix   by hand {alone:6.1f} s; through stomper fix {through:6.1f} s "
              f"(+{through - alone:.1f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", default="claude,codex,gemini,aider")
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--hang-timeout", type=float, default=20.0)
    args = parser.parse_args()
    for agent in args.agents.split(","):
        if (AIDER if agent == "aider" else shutil.which(agent)) is None \
                or not Path(AIDER if agent == "aider" else shutil.which(agent) or "").exists():
            print(f"{agent:7} skipped: not installed")
            continue
        measure(agent, args.files, args.hang_timeout)


if __name__ == "__main__":
    main()
