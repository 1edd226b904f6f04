"""`python -m stomper_lsp` starts the language server (the CLI is `stomper`)."""

import sys

from stomper_lsp.server.main import main

sys.exit(main())
