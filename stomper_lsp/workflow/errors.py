"""Errors of the fix engine, importable without loading LangGraph."""


class FixRunError(Exception):
    """The run could not start (no git, missing agent...): a message for the user."""
