"""Facts about a cell's top-level statements, read off its AST graph once, for structural LFs.

``cell_facts(x)`` walks the graph a single time and is memoized for the cell being labeled,
so the extended set's structural LFs share one walk per cell instead of one each (every
applier runs all LFs on a cell before the next one). The graph is in preorder and the
root's children are the top-level statements, so statement ``i``'s subtree is the run of
nodes up to the next top-level statement.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from coral.corpora.records import ASTGraph, ParsedCell

_IMPORT_TYPES = {"import_statement", "import_from_statement", "future_import_statement"}
_DEFINITION_TYPES = {"function_definition", "decorated_definition"}
_NAMED_DEFINITION_TYPES = {"function_definition", "class_definition"}
_LOOP_TYPES = {"for_statement", "while_statement"}
_BLOCK_TYPES = {"if_statement", "with_statement", "try_statement"}
_DISPLAY_TYPES = {
    "identifier", "attribute", "subscript", "comparison_operator", "binary_operator", "tuple", "unary_operator",
    "boolean_operator", "list", "dictionary", "parenthesized_expression",
}
_TARGET_TYPES = {"identifier", "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list"}
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning")  # IndexError names no model error
_CHANGE_TYPES = {"assignment", "augmented_assignment", "delete_statement"}
_SHOW_FUNCTIONS = {"print", "display", "pprint"}
_IN_PLACE_METHODS = {"append", "extend", "insert", "update", "pop", "remove", "add", "setdefault", "clear", "sort"}
# Resolved names of what a fitted model returned: ``statsmodels.formula.api.ols.fit.summary``,
# ``...RegressionResults.conf_int``, ``keras...Sequential.fit.history`` (not a scaler's
# ``fit.transform``, which prepares data).
FITTED_RESULT_API = re.compile(r"\.fit\.(?!transform)[A-Za-z_]|Results(?:Wrapper)?\.[a-z_]")
_IDENTIFIER_WORDS = re.compile(r"[A-Z]?[a-z]+\d*|[A-Z]+\d*(?![a-z])")


@dataclass(frozen=True, slots=True)
class Statement:
    """A top-level statement: its ``kind`` and, for calls and assignments, the names involved.

    kind: import, magic, call, assign, display (a bare expression whose value the notebook
    shows), def, class, loop, block (if/with/try), delete, other. ``callee`` is the called
    function or method (last component) for call statements and for assignments of a call;
    ``targets`` the names an assignment binds; ``mutates`` whether the statement changes
    existing data in place (item or attribute assignment, ``del``, ``inplace=True``; for
    loops and if/with/try blocks: any assignment or ``del`` in their body); ``shows``, for
    loops and blocks: their body prints or displays something (``for c in df: print(c)``);
    ``in_place``, for loops and blocks: their body changes existing objects (item or
    attribute assignment, ``del``, ``inplace=True``, ``append``/``update``-like calls), as
    opposed to binding loop-local names;
    ``bases`` the base-class names of a class; ``defines`` the names of the functions and
    classes a definition defines, its methods and nested functions included.
    """

    kind: str
    callee: str = ""
    targets: tuple[str, ...] = ()
    mutates: bool = False
    shows: bool = False
    in_place: bool = False
    bases: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The single assigned name ('' for tuple targets, subscripts and attributes)."""
        return self.targets[0] if len(self.targets) == 1 and not self.mutates else ""


@dataclass(frozen=True, slots=True)
class CellFacts:
    """What structural LFs ask of a cell, computed in one walk of its graph.

    ``methods``: last components of every call, resolved or as written (``head``, ``fit``);
    ``identifiers``: every identifier in the code but its imports (names, attributes,
    keywords); ``words``:
    those identifiers lower-cased, whole without underscores and split into words, each with
    and without trailing digits (``y_pred2`` -> ``ypred2``, ``y``, ``pred2``, ``pred``;
    ``rfScore`` -> ``rfscore``, ``rf``, ``score``), for vocabulary cues that should not match
    comments or strings; ``uses_fitted_results``: a resolved call reaches into what a fit
    returned (``extended.FITTED_RESULT_API``).
    """

    statements: tuple[Statement, ...]
    methods: frozenset[str]
    identifiers: frozenset[str]
    words: frozenset[str]
    uses_fitted_results: bool = False


def identifier_words(identifiers: set[str]) -> frozenset[str]:
    """Identifiers as ``CellFacts.words`` holds them (exception names left out)."""
    words: set[str] = set()
    for identifier in identifiers:
        if identifier.endswith(_EXCEPTION_SUFFIXES):
            continue
        for word in (identifier.replace("_", ""), *_IDENTIFIER_WORDS.findall(identifier)):
            word = word.lower()
            words.update((word, word.rstrip("0123456789")))
    words.discard("")
    return frozenset(words)


def _children(graph: ASTGraph, node: int, end: int) -> list[int]:
    parents = graph.parents
    return [i for i in range(node + 1, end) if parents[i] == node]


def _callee(graph: ASTGraph, call: int, end: int) -> str:
    function = call + 1
    if function >= end:
        return ""
    if graph.types[function] == "identifier":
        return graph.values[function] or ""
    if graph.types[function] == "attribute":
        children = _children(graph, function, end)
        return (graph.values[children[-1]] or "") if children else ""
    return ""


def _defined_names(graph: ASTGraph, start: int, end: int) -> tuple[str, ...]:
    """Names of the functions and classes defined in ``start..end`` (a definition's name is
    its first child)."""
    types, values, parents = graph.types, graph.values, graph.parents
    return tuple(
        values[i] or ""
        for i in range(start + 1, end)
        if types[i] == "identifier" and parents[i] == i - 1 and types[i - 1] in _NAMED_DEFINITION_TYPES
    )


def _has_inplace(graph: ASTGraph, start: int, end: int) -> bool:
    types, values = graph.types, graph.values
    return any(
        types[i] == "keyword_argument" and values[i + 1] == "inplace" and i + 2 < end and types[i + 2] == "true"
        for i in range(start, end - 2)
    )


def _changes_in_place(graph: ASTGraph, start: int, end: int) -> bool:
    """Whether ``start..end`` changes existing objects by item or attribute assignment, ``del``
    or an ``append``-like method (``inplace=True`` is asked separately)."""
    types = graph.types
    for i in range(start + 1, end):
        kind = types[i]
        if kind == "delete_statement":
            return True
        if kind in ("assignment", "augmented_assignment") and i + 1 < end and types[i + 1] in ("subscript", "attribute"):
            return True
        if kind == "call" and types[i + 1] == "attribute" and _callee(graph, i, end) in _IN_PLACE_METHODS:
            return True
    return False


def _statement(graph: ASTGraph, node: int, end: int) -> Statement:
    types, values = graph.types, graph.values
    kind = types[node]
    if kind in _IMPORT_TYPES:
        return Statement("import")
    if kind in _DEFINITION_TYPES:
        return Statement("def", defines=_defined_names(graph, node, end))
    if kind == "class_definition":
        bases = tuple(values[i] or "" for i in range(node + 1, end) if types[i] == "identifier")
        return Statement("class", bases=bases[1:], defines=_defined_names(graph, node, end))
    if kind in _LOOP_TYPES or kind in _BLOCK_TYPES:
        inplace = _has_inplace(graph, node, end)
        body = range(node + 1, end)
        shows = any(
            types[i] == "print_statement" or (types[i] == "call" and _callee(graph, i, end) in _SHOW_FUNCTIONS)
            for i in body
        )
        return Statement(
            "loop" if kind in _LOOP_TYPES else "block", mutates=inplace or any(types[i] in _CHANGE_TYPES for i in body),
            shows=shows, in_place=inplace or _changes_in_place(graph, node, end),
        )
    if kind == "delete_statement":
        return Statement("delete", mutates=True)
    if kind in ("print_statement", "exec_statement"):
        return Statement("call", callee=kind.split("_")[0])
    if kind != "expression_statement" or node + 1 >= end:
        return Statement("other")
    inner = node + 1
    inner_type = types[inner]
    if any(values[i] == "get_ipython" for i in range(inner, min(end, inner + 6))):
        return Statement("magic")
    if inner_type == "call":
        return Statement("call", callee=_callee(graph, inner, end), mutates=_has_inplace(graph, inner, end))
    if inner_type in ("assignment", "augmented_assignment"):
        children = _children(graph, inner, end)
        if not children:
            return Statement("other")
        left = children[0]
        value = children[-1] if len(children) > 1 else None
        callee = _callee(graph, value, end) if value is not None and types[value] == "call" else ""
        if types[left] in _TARGET_TYPES:
            left_end = value if value is not None else end
            targets = tuple(values[i] or "" for i in range(left, left_end) if types[i] == "identifier")
            mutates = inner_type == "augmented_assignment" or any(
                types[i] in ("subscript", "attribute") for i in range(left, left_end)
            )
            return Statement("assign", callee=callee, targets=targets, mutates=mutates)
        return Statement("assign", callee=callee, mutates=True)
    if inner_type in _DISPLAY_TYPES:
        return Statement("display")
    return Statement("other")


def compute_cell_facts(cell: Any) -> CellFacts:
    """The facts of one cell (a ``ParsedCell`` or anything with its fields, e.g. a pandas row)."""
    graph: ASTGraph = cell.graph
    types, values, parents = graph.types, graph.values, graph.parents
    tops = [i for i, parent in enumerate(parents) if parent == 0]
    ends = [*tops[1:], len(types)]
    statements = tuple(_statement(graph, start, end) for start, end in zip(tops, ends))
    identifiers = {
        values[i]
        for start, end, statement in zip(tops, ends, statements)
        if statement.kind != "import"
        for i in range(start, end)
        if types[i] == "identifier" and values[i]
    }
    methods = frozenset(name.rsplit(".", 1)[-1] for name in (*cell.apis, *cell.called_names))
    fitted = any(FITTED_RESULT_API.search(api) for api in cell.apis)
    return CellFacts(statements, methods, frozenset(identifiers), identifier_words(identifiers), fitted)


_last = threading.local()


def cell_facts(cell: ParsedCell) -> CellFacts:
    """``compute_cell_facts`` memoized for the most recent cell (per thread): all LFs that
    ask about one cell share one walk of its graph. Keyed on the identity of the cell's graph
    and call lists (held until the next cell, so never recycled), not on its id, which two
    cells may share, nor on the cell object, which pandas reuses from row to row."""
    key = (cell.graph, cell.apis, cell.called_names)
    last = getattr(_last, "key", None)
    if last is None or any(held is not current for held, current in zip(last, key)):
        _last.facts = compute_cell_facts(cell)
        _last.key = key
    return _last.facts


def top_level_statements(cell: ParsedCell) -> list[Statement]:
    return list(cell_facts(cell).statements)
