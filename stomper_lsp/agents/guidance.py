"""Short, opinionated advice for the codes agents meet most, so a fix keeps behaviour.

Agents tend to reach for `# noqa` or `Any`; one line per code steers them to the fix a
reviewer would accept. Keys are exact codes, or a ruff prefix such as `SIM` for a family.
"""

from __future__ import annotations

from collections.abc import Iterable

GUIDANCE: dict[str, str] = {
    # ruff
    "F401": "unused import: delete it. If it is a deliberate re-export from a package "
    "`__init__.py`, list it in `__all__` instead.",
    "F841": "unused local variable: delete the assignment, but keep the right-hand side as a "
    "bare expression if it has side effects (a call).",
    "F821": "undefined name: import it or fix the typo; do not define a dummy.",
    "E501": "line too long: wrap inside brackets or split a long string with implicit "
    "concatenation; never change the string's value.",
    "E711": "comparison to None: use `is None` / `is not None`.",
    "E712": "comparison to True/False: use `if x:` / `if not x:`, or `is True` only when x "
    "may be a non-bool and the identity check is really meant.",
    "E722": "bare `except:`: catch the specific exceptions (at least `Exception`).",
    "I001": "unsorted imports: sort the import block (stdlib, third-party, first-party "
    "groups); do not add or remove imports.",
    "B006": "mutable default argument: default to `None` and create the list/dict/set "
    "inside the function.",
    "B008": "function call in a default argument: compute it inside the function (default to "
    "`None`), or hoist it to a module-level constant if it must be evaluated once.",
    "B904": "raise inside except: use `raise NewError(...) from err` (or `from None`).",
    "UP006": "use builtin generics (`list[int]`, `dict[str, int]`) instead of "
    "`typing.List`/`typing.Dict`; drop the unused typing import.",
    "UP007": "use `X | Y` instead of `Union[X, Y]` (and `X | None` for `Optional[X]`).",
    "UP035": "import from the modern location (`collections.abc`, or a builtin) instead of "
    "the deprecated `typing` alias.",
    "SIM": "simplify only as the rule says (merge nested ifs/withs, use a ternary, "
    "`contextlib.suppress`, ...); keep the exact evaluation order and side effects.",
    # mypy
    "arg-type": "argument type mismatch: fix the caller's value or widen the parameter's "
    "annotation only if the function really accepts that type.",
    "return-value": "returned value does not match the declared return type: fix the "
    "returned value or correct the annotation to what the function really returns.",
    "assignment": "incompatible assignment: use a new variable for a value of another type, "
    "or annotate the variable with the union it really holds.",
    "union-attr": "attribute access on an Optional/union: narrow first (`if x is not None:`, "
    "`isinstance`, or an early return/raise); do not use `cast` to silence it.",
    "attr-defined": "unknown attribute: fix the name, declare the attribute in the class, "
    "or narrow the type; check the real object has it.",
    "name-defined": "undefined name: import it (under `if TYPE_CHECKING:` when it is only "
    "used in annotations) or fix the typo.",
    "no-untyped-def": "add annotations for every parameter and the return type (`-> None` "
    "when nothing is returned); infer them from how the function is used.",
    "no-untyped-call": "the callee lacks annotations: annotate it if it is in this project.",
    "var-annotated": "annotate the empty container with its element type, e.g. "
    "`items: list[str] = []`.",
    "import-untyped": "the package ships no type information: a narrow "
    "`# type: ignore[import-untyped]` on that import line is acceptable (adding stub "
    "packages is the user's decision).",
    "import-not-found": "the module cannot be found: fix the import path; do not silence it.",
    "call-arg": "wrong arguments in a call: match the callee's signature (names, count).",
    "index": "invalid index: check the container type (e.g. narrow an Optional, use the "
    "right key type).",
    "override": "incompatible override: make the subclass signature compatible with the base "
    "class (same or wider parameters, same or narrower return).",
    "no-any-return": "returning Any from a typed function: convert or validate the value "
    "(e.g. `str(...)`, `int(...)`) or `cast` after checking it.",
}


def guidance_for(code: str) -> str | None:
    """Advice for `code`: an exact entry first, then a family entry (`SIM` for `SIM108`)."""
    if code in GUIDANCE:
        return GUIDANCE[code]
    family = code.rstrip("0123456789")
    if family != code and family.isalpha() and family.isupper():
        return GUIDANCE.get(family)
    return None


def guidance_lines(codes: Iterable[str]) -> list[str]:
    """One bullet per distinct code that has advice, in first-seen order."""
    lines: list[str] = []
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            continue
        seen.add(code)
        advice = guidance_for(code)
        if advice:
            lines.append(f"- `{code}`: {advice}")
    return lines
