"""`stomper-lsp` / `python -m stomper_lsp`: arguments, logging, transport.

Imports stay light until the transport is chosen: `--version` and `--help` answer without
loading pygls, and stdio start-up answers `initialize` while the rest still loads
(see fast_start).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stomper_lsp import __version__


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stomper-lsp",
        description="Stomper's language server: ruff and mypy diagnostics, quick fixes, and "
        "background fix runs. Speaks LSP over stdio unless --tcp is given.",
    )
    parser.add_argument("--version", action="version", version=f"stomper-lsp {__version__}")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="talk over stdin/stdout (the default)"
    )
    transport.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="listen on a TCP socket instead"
    )
    parser.add_argument("--log-file", type=Path, help="also write the log to this file")
    parser.add_argument(
        "--log-level", choices=("error", "warning", "info", "debug"), default="info",
        help="log level until the editor's logLevel setting arrives (default: info)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from stomper_lsp.server.log import LOG_LEVELS, configure_logging

    configure_logging(LOG_LEVELS[args.log_level], args.log_file)
    if args.tcp is not None:
        from stomper_lsp.server.server import build_server

        build_server().start_tcp(*args.tcp)
        return 0
    from stomper_lsp.server.fast_start import serve_stdio

    code = serve_stdio()
    # Leave now: a thread blocked on stdin, or a worker thread still finishing, must not
    # keep an exited server alive (editors wait for the process to end).
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
