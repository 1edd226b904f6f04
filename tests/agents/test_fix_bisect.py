"""The built-in agent keeps every fix that adds no issue and names the ones it drops.

Real ruff throughout: both cases are ruff's own unsafe fixes that make a new issue, next to
fifteen unsafe fixes that do not (issue 10).
"""

from __future__ import annotations

from pathlib import Path

from agents_support import RUFF, Collect

from stomper_lsp.agents.base import AgentTask
from stomper_lsp.agents.fix_bisect import apply_fix
from stomper_lsp.agents.ruff_fix import RuffFixAgent
from stomper_lsp.checkers.model import Applicability, Fix, FixEdit, Position

CONFIG = '[tool.ruff.lint]\nselect = ["F", "B", "UP"]\n'

# Not `.format(a, b, c)`: there the safe UP032 (f-string) comes first and UP030 never runs.
MIXED_NUMBERING = (
    "def fmt(a, b, c):\n    return '{0:d}{1}{2:d}'.format(a, 'x' if b else 'y', c)\n"
)
ASSERT_IN_EXCEPT = (
    "def parse(text):\n"
    "    try:\n"
    "        return int(text)\n"
    "    except ValueError:\n"
    "        assert False, 'bad'\n"
)
FIFTEEN_UNUSED = "".join(
    f"\n\ndef g{n}():\n    unused{n} = {n}\n    return 0\n" for n in range(15)
)


async def test_drops_only_the_fixes_that_add_issues(
    project: Path, collect: Collect, tmp_path: Path
) -> None:
    (project / "pyproject.toml").write_text(CONFIG)
    (project / "mod.py").write_text(MIXED_NUMBERING + "\n\n" + ASSERT_IN_EXCEPT + FIFTEEN_UNUSED)
    before = await collect(project, ["mod.py"], ["ruff"])
    assert sorted({i.code for i in before}) == ["B011", "F841", "UP030"]
    log = tmp_path / "mod.log"

    result = await RuffFixAgent(RUFF).fix(
        AgentTask(workdir=project, target="mod.py", issues=before, attempt=1, log_path=log)
    )

    after = await collect(project, ["mod.py"], ["ruff"])
    assert sorted(i.code for i in after) == ["B011", "UP030"]  # no F525, no B904
    text = (project / "mod.py").read_text()
    assert "unused" not in text  # all fifteen unsafe F841 fixes kept
    assert len(result.dropped_fixes) == 2
    up030, b011 = sorted(result.dropped_fixes, reverse=True)
    assert up030.startswith("UP030 at line 2") and "F525" in up030
    assert b011.startswith("B011 at line 9") and "B904" in b011
    assert "dropped fix: UP030 at line 2" in log.read_text()
    assert not result.final  # a safe-only attempt could still differ


async def test_safe_fixes_first_then_unsafe(project: Path, collect: Collect) -> None:
    """UP032 (safe) rewrites the same call UP030 (unsafe) would: the safe one wins."""
    (project / "pyproject.toml").write_text(CONFIG)
    (project / "mod.py").write_text("def f(a, b):\n    return '{0} {1}'.format(a, b)\n")
    before = await collect(project, ["mod.py"], ["ruff"])
    assert sorted(i.code for i in before) == ["UP030", "UP032"]

    result = await RuffFixAgent(RUFF).fix(
        AgentTask(workdir=project, target="mod.py", issues=before, attempt=1)
    )

    assert (project / "mod.py").read_text() == "def f(a, b):\n    return f'{a} {b}'\n"
    assert result.dropped_fixes == ()


async def test_nothing_fixable_means_no_second_attempt(project: Path, collect: Collect) -> None:
    (project / "mod.py").write_text("x = 'a' + " + "'b' + " * 20 + "'c'\n")
    issues = await collect(project, ["mod.py"], ["ruff"])
    result = await RuffFixAgent(RUFF).fix(
        AgentTask(workdir=project, target="mod.py", issues=issues, attempt=1)
    )
    assert result.final and "nothing ruff can fix" in result.summary


def test_apply_fix_uses_zero_based_positions() -> None:
    def at(line: int, character: int) -> Position:
        return Position(line=line, character=character)

    fix = Fix(message=None, applicability=Applicability.SAFE, edits=(
        FixEdit(start=at(1, 4), end=at(1, 5), content="yy"),
        FixEdit(start=at(0, 0), end=at(1, 0), content=""),
    ))
    assert apply_fix("import os\nabc x = 1\n", fix) == "abc yy = 1\n"


async def test_safe_fixes_again_after_unsafe_rewrites(project: Path, collect: Collect) -> None:
    """SIM103 (unsafe) rebuilds the condition and drops RUF021's parentheses (toolz 0.9.0)."""
    (project / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["SIM", "RUF"]\n')
    (project / "mod.py").write_text(
        "def f(a, b, c, d):\n    if (\n        a and b\n        or c and d\n    ):\n"
        "        return False\n    else:\n        return True\n"
    )
    before = await collect(project, ["mod.py"], ["ruff"])
    assert sorted(i.code for i in before) == ["RUF021", "RUF021", "SIM103"]
    await RuffFixAgent(RUFF).fix(
        AgentTask(workdir=project, target="mod.py", issues=before, attempt=1)
    )
    assert await collect(project, ["mod.py"], ["ruff"]) == []
    assert "return not ((a and b) or (c and d))" in (project / "mod.py").read_text()
