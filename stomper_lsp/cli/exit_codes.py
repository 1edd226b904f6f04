"""Exit codes shared by every subcommand (documented in docs/cli.md)."""

EXIT_CLEAN = 0
EXIT_ISSUES = 1
EXIT_ERROR = 2
