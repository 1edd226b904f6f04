"""Merging primitives shared by the fix engine (run results) and delivery (write-back, LSP)."""
