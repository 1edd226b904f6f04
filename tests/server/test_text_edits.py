"""Minimal edits and LSP positions: the arithmetic under every edit the server sends."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types
from pygls.workspace import PositionCodec

from stomper_lsp.server.positions import TextIndex, split_lines
from stomper_lsp.server.text_edits import apply_replacements, minimal_replacements, text_edits
from tests.server.editor import apply_text_edits

ENCODINGS = ["utf-8", "utf-16", "utf-32"]


def test_lines_break_only_where_lsp_does() -> None:
    assert split_lines("a\nb\r\nc\rd") == ["a\n", "b\r\n", "c\r", "d"]
    assert split_lines("a\x0cb\u2028c\n") == ["a\x0cb\u2028c\n", ""]
    assert split_lines("") == [""]


@pytest.mark.parametrize(("encoding", "column"), [("utf-8", 11), ("utf-16", 8), ("utf-32", 7)])
def test_positions_count_the_clients_units(encoding: str, column: int) -> None:
    index = TextIndex("s = '😀é' + x\n", PositionCodec(encoding))
    assert index.position(0, 7) == types.Position(line=0, character=column)
    assert index.position(0, 99) == index.position(0, 12)  # clamped to the line
    assert index.position(5, 0) == types.Position(line=1, character=0)  # past the end
    assert index.end() == types.Position(line=1, character=0)


def test_a_position_never_splits_a_crlf() -> None:
    old, new = "a = 1\r\nb = 2\r\n", "a = 1\r\nb = 3\r\nc = 4\r\n"
    reps = minimal_replacements(old, new)
    assert apply_replacements(old, reps) == new
    assert all(old[r.start - 1 : r.start + 1] != "\r\n" for r in reps)


def test_replacements_are_minimal() -> None:
    old = "import os\nimport sys\n\nprint(sys)\n"
    assert minimal_replacements(old, "import sys\n\nprint(sys)\n") == [
        type(minimal_replacements(old, old + "x")[0])(0, 10, "")
    ]
    (rep,) = minimal_replacements("x = compute(a, b)\n", "x = compute(a, c)\n")
    assert (rep.start, rep.end, rep.text) == (15, 16, "c")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_edits_round_trip_through_a_client(encoding: str) -> None:
    """What the server computes, a client applies, and gets the fixed text exactly."""
    rng = random.Random(4)
    alphabet = ["a", "b", "é", "😀", "\n", "\r\n", " ", "x = 1\n", "\t"]
    for _ in range(300):
        old = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        new = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        edits = text_edits(TextIndex(old, PositionCodec(encoding)), new)
        assert apply_text_edits(old, edits, encoding) == new, (old, new)
