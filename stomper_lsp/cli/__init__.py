"""The `stomper` command line."""
