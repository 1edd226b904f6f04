"""ruff and mypy behind one interface, producing one issue model."""
