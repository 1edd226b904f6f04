"""A push's diagnostics are JSON text reused from the last keystroke: that text must be
exactly what pygls would have sent for them."""

from __future__ import annotations

import json

from pygls.protocol import default_converter
from pygls.workspace import PositionCodec

from stomper_lsp.checkers.model import Issue, Position
from stomper_lsp.server.client_features import ClientFeatures
from stomper_lsp.server.diagnostics import DiagnosticCache
from stomper_lsp.server.positions import TextIndex


def test_the_json_of_a_push_is_what_pygls_would_send() -> None:
    converter = default_converter()
    features = ClientFeatures(
        diagnostic_tags=frozenset({1, 2}), code_description=True, diagnostic_data=True
    )
    cache = DiagnosticCache(features, converter.unstructure)
    text = "import os\nnom = 'é😀'; x = 1\n"
    issues = [
        Issue(path="a.py", start=Position(line=0, character=7), end=Position(line=0, character=9),
              tool="ruff", code="F401", message="`os` imported but unused",
              url="https://docs.astral.sh/ruff/rules/unused-import", line_text="import os"),
        Issue(path="a.py", start=Position(line=1, character=13),
              end=Position(line=1, character=14), tool="mypy", code="misc",
              message="« x » is \"odd\"\n\tsee \\docs", line_text="nom = 'é😀'; x = 1"),
    ]
    index = TextIndex(text, PositionCodec())
    for _ in range(2):  # built, then reused
        sent = json.loads(cache.convert_to_json(issues, index))
        assert sent == [converter.unstructure(d) for d in cache.convert(issues, index)]
    assert sent[1]["range"]["start"]["character"] == 14  # UTF-16: the emoji counts twice
    assert json.loads(cache.convert_to_json([], index)) == []
