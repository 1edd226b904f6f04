"""The code action kinds Stomper offers (plain strings: fast_start answers `initialize`
with them before lsprotocol is imported).

On-save kinds (`source.fixAll`, `source.organizeImports` and their `.stomper` sub-kinds)
return instant edits only, like ruff's server; the background agent runs live under
`source.stomper`, which no on-save setting for fixAll or organizeImports reaches.
"""

from __future__ import annotations

FIX_ALL_KIND = "source.fixAll.stomper"
ORGANIZE_IMPORTS_KIND = "source.organizeImports.stomper"
RUN_KIND = "source.stomper"
FIX_FILE_RUN_KIND = "source.stomper.fixFile"
FIX_ALL_RUN_KIND = "source.stomper.fixAll"
ADVERTISED = ["quickfix", FIX_ALL_KIND, ORGANIZE_IMPORTS_KIND, RUN_KIND]
