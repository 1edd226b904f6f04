"""Entry point of `stomper`: parse arguments, load the project, dispatch, map errors to exits."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stomper_lsp import __version__
from stomper_lsp.checkers.errors import CheckerError
from stomper_lsp.checkers.files import PathOutsideProjectError
from stomper_lsp.cli.check import run_check
from stomper_lsp.cli.exit_codes import EXIT_ERROR
from stomper_lsp.config import AGENT_NAMES, EXECUTOR_NAMES, TOOL_NAMES, ConfigError
from stomper_lsp.confinement.policy import FORCE_ENV
from stomper_lsp.project import Project, find_project_root
from stomper_lsp.workflow.errors import FixRunError


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _tools(value: str) -> list[str]:
    tools = _comma_list(value)
    unknown = [t for t in tools if t not in TOOL_NAMES]
    if unknown or not tools:
        raise argparse.ArgumentTypeError(
            f"unknown tool {', '.join(unknown) or '(none)'}; choose from {', '.join(TOOL_NAMES)}"
        )
    return tools


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="files or folders (default: the whole project)")
    parser.add_argument(
        "--project", type=Path, help="project root (default: nearest folder with pyproject.toml)"
    )
    parser.add_argument("--tools", type=_tools, help="comma-separated checkers: ruff,mypy")
    parser.add_argument(
        "--select",
        type=_comma_list,
        metavar="CODES",
        help="rules to check, e.g. F,B904,arg-type: ruff codes reach ruff as its own --select "
        "(enabling them even if your ruff config does not; its other settings still apply), "
        "mypy codes keep only those mypy errors",
    )
    parser.add_argument(
        "--extend-select",
        type=_comma_list,
        metavar="CODES",
        help="rules to check on top of the selection: ruff codes reach ruff as --extend-select",
    )
    parser.add_argument(
        "--ignore",
        type=_comma_list,
        metavar="CODES",
        help="rules never to check: ruff codes reach ruff as --ignore, mypy codes are dropped",
    )
    parser.add_argument(
        "--target-version",
        metavar="PYXY",
        help="Python version ruff assumes (py39, py312), passed as ruff's --target-version",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--untrusted",
        action="store_true",
        help="run no code from the repository: not its test_command, not the tools or "
        "interpreter in its .venv, not the plugins or python_executable of its mypy config",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stomper", description="Make ruff and mypy errors disappear."
    )
    parser.add_argument("--version", action="version", version=f"stomper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser("check", help="list ruff and mypy issues")
    _add_common(check)
    fix = sub.add_parser("fix", help="fix issues with an agent, file by file, in parallel")
    _add_common(fix)
    fix.add_argument("--max-parallel-files", type=int, metavar="N", help="files at once (1-32)")
    fix.add_argument("--agent", choices=AGENT_NAMES, help="agent (default: the built-in ruff)")
    fix.add_argument(
        "--agent-command",
        metavar="TEMPLATE",
        help="command agent argv, e.g. 'my-agent --prompt {prompt_file} {file}' (no shell)",
    )
    fix.add_argument("--max-attempts", type=int, metavar="N", help="attempts per file (1-10)")
    fix.add_argument("--agent-timeout", type=float, metavar="SECONDS", help="per attempt")
    fix.add_argument(
        "--test-command",
        metavar="COMMAND",
        help="must exit 0 for a fix to count; runs with no shell, in the sandbox's copy of "
        "the project (its working folder, also {workdir}; {file} is the fixed file, in "
        "batch mode one argument per fixed file of the batch: source files, not tests), "
        "confined like the agent, with your environment minus GIT_DIR-style variables; "
        "leading NAME=value words set variables, e.g. 'PYTHONPATH={workdir} pytest -x'",
    )
    fix.add_argument(
        "--test-mode",
        choices=("batch", "per-file"),
        help="batch (default): one suite run for all files' fixes, split only when it fails; "
        "per-file: the suite runs after every attempt of every file",
    )
    fix.add_argument(
        "--test-bisect-budget",
        type=int,
        metavar="N",
        help="test runs per file for narrowing a fix the tests reject down to the rules, "
        "then single fixes, that break them (default 8; 0: drop the file's fix whole)",
    )
    fix.add_argument(
        "--allow-unconfined",
        action="store_true",
        help="run agents even where they cannot be confined (no bubblewrap, no Landlock); "
        "each attempt then runs alone and is rejected if anything outside its sandbox changes",
    )
    fix.add_argument(
        "--executor",
        choices=EXECUTOR_NAMES,
        help="where agents run: local (default) or ray (tasks on a Ray cluster; needs "
        "`pip install 'stomper-lsp[ray]'` and nodes with a stomper_slot resource)",
    )
    fix.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster for --executor ray (default: $RAY_ADDRESS, else a Ray started "
        "on this machine for the run)",
    )
    fix.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    fix.add_argument(
        "--resume", action="store_true",
        help="reuse files an interrupted run already fixed (same files and settings)",
    )
    fix.add_argument(
        "--commit",
        action="store_true",
        help="one commit per fixed file with only Stomper's change (refuses files you changed)",
    )
    agents = sub.add_parser(
        "agents", help="per agent CLI: found, version, flags compatible, model configured"
    )
    agents.add_argument("--json", action="store_true", help="print one JSON document")
    doctor = sub.add_parser(
        "doctor", help="say whether and how agents are confined on this machine"
    )
    doctor.add_argument(
        "--project", type=Path, help="project root (default: nearest folder with pyproject.toml)"
    )
    doctor.add_argument(
        "--allow-unconfined", action="store_true", help="as `stomper fix --allow-unconfined`"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "doctor":
        return {"allow_unconfined": True if args.allow_unconfined else None}
    values: dict[str, Any] = {
        "tools": args.tools,
        "select": args.select,
        "extend_select": args.extend_select,
        "ignore": args.ignore,
        "target_version": args.target_version,
    }
    if args.command == "fix":
        values.update(
            max_parallel_files=args.max_parallel_files,
            agent=args.agent,
            agent_command=args.agent_command,
            max_attempts=args.max_attempts,
            agent_timeout=args.agent_timeout,
            test_command=args.test_command,
            test_mode=args.test_mode,
            test_bisect_budget=args.test_bisect_budget,
            allow_unconfined=True if args.allow_unconfined else None,
            executor=args.executor,
            ray_address=args.ray_address,
        )
        if args.ray_address and not args.executor:
            values["executor"] = "ray"
        if args.agent_command and not args.agent:
            values["agent"] = "command"
    return values


def load_project(args: argparse.Namespace, overrides: dict[str, Any]) -> tuple[Project, list[str]]:
    if args.project is not None:
        if not args.project.is_dir():
            raise ConfigError(f"--project {args.project}: not a folder.")
        root = args.project
    else:
        paths = getattr(args, "paths", [])
        first = Path(paths[0]) if paths else Path.cwd()
        if paths and not first.exists():
            raise ConfigError(f"{first}: no such file or folder.")
        root = find_project_root(first)
    for path in getattr(args, "paths", []):
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such file or folder.")
    project = Project.load(
        root, overrides=overrides, trusted=not getattr(args, "untrusted", False)
    )
    return project, project.relative(getattr(args, "paths", []))


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "agents":  # about this machine, not a project
        from stomper_lsp.cli.agents import run_agents

        return await run_agents(as_json=args.json, out=sys.stdout)
    project, paths = load_project(args, _overrides(args))
    for warning in project.warnings:
        print(f"stomper: warning: {warning}", file=sys.stderr)
    if args.command == "doctor":
        from stomper_lsp.cli.doctor import run_doctor

        return await run_doctor(
            project.config, forced=os.environ.get(FORCE_ENV), as_json=args.json, out=sys.stdout
        )
    if args.command == "fix":
        if args.dry_run and args.commit:
            raise ConfigError("--dry-run and --commit exclude each other.")
        from stomper_lsp.cli.fix import run_fix_command  # loads LangGraph only when fixing
        from stomper_lsp.workflow.executors.choice import disconnect_cluster

        report_out = sys.stdout
        # Libraries' own prints go to stderr, not into the report or `--json`: Ray prints
        # cluster notices ("node ... marked dead") on stdout from a thread of its own.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                return await run_fix_command(
                    project, paths, as_json=args.json, dry_run=args.dry_run,
                    commit=args.commit, resume=args.resume, out=report_out,
                )
            finally:
                disconnect_cluster()
    return await run_check(project, paths, as_json=args.json, out=sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_dispatch(args))
    except (ConfigError, PathOutsideProjectError, CheckerError, FixRunError) as exc:
        print(f"stomper: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("stomper: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
