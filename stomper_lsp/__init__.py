"""Stomper: make ruff and mypy errors disappear, in the editor and in the terminal."""

__version__ = "0.1.0"
