"""The one error the sandbox layer raises, worded for the person who has to act on it."""

from __future__ import annotations


class SandboxError(Exception):
    """A snapshot or sandbox could not be made, used or cleaned up.

    The message says what is wrong and what to do about it; front ends show it verbatim.
    """
