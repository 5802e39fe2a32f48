"""Parse code cells with tree-sitter into AST graphs and per-cell features, resolving APIs.

One cursor pass per cell builds the graph (named nodes in preorder; punctuation dropped,
operators kept as the value of their operator node) and, as it leaves each node, feeds the
resolver (coral.corpora.resolve.Scope) so that calls are qualified through the imports and
assignments of earlier cells. No recursion over the tree: a 5,000-deep expression is fine.
IPython syntax is rewritten first (coral.corpora.magics). docs/parsing.md has the rules.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import tree_sitter_python
from tree_sitter import Language, Node, Parser

from coral.corpora.magics import rewrite_magics
from coral.corpora.records import ASTGraph, Cell, Notebook, ParsedCell
from coral.corpora.resolve import UNKNOWN, Scope, Value, typed_names
from coral.problems import UNPARSABLE_CELL, ProblemLog, problem_log

MAX_VALUE_CHARS = 64  # identifier and literal text kept in the graph

LANGUAGE = Language(tree_sitter_python.language())
ERROR_KIND = 65535  # tree-sitter's builtin error symbol

# Named node types left out of the graph: comments and the pieces of a string literal (the
# string node carries the literal as its value; f-string interpolations are kept).
DROPPED_TYPES = frozenset(
    {"comment", "string_start", "string_content", "string_end", "escape_sequence",
     "escape_interpolation", "line_continuation"}
)
# Node types whose (truncated) source text is their graph value.
VALUE_TYPES = frozenset(
    {"identifier", "integer", "float", "string", "dotted_name", "relative_import", "type_conversion"}
)
# Node types whose operator tokens (anonymous children) become their value: "+", "not in"...
OPERATOR_TYPES = frozenset(
    {"binary_operator", "comparison_operator", "boolean_operator", "unary_operator",
     "augmented_assignment"}
)
# get_ipython() methods that IPython syntax turns into, and how ParsedCell.magics names them.
MAGIC_METHODS = {
    "get_ipython.run_line_magic": "%",
    "get_ipython.magic": "%",
    "get_ipython.run_cell_magic": "%%",
    "get_ipython.system": "!",
    "get_ipython.getoutput": "!",
}
HELP_MAGICS = frozenset({"pinfo", "pinfo2", "psearch"})
STAR_IMPORT_MAGICS = {"pylab": "pylab"}  # %pylab does "from pylab import *"

_SCOPE_TYPES = frozenset(
    {"function_definition", "class_definition", "lambda", "list_comprehension",
     "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
_COMPREHENSION_TYPES = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
)
_PARAMETER_LISTS = frozenset({"parameters", "lambda_parameters"})
_PARAMETER_WRAPPERS = frozenset(
    {"default_parameter", "typed_parameter", "typed_default_parameter", "list_splat_pattern",
     "dictionary_splat_pattern"}
)
# Targets that hold other targets: ``a, (b, *c) = ...``, ``with f() as (x, y)``.
_PATTERN_TYPES = frozenset(
    {"pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "expression_list",
     "parenthesized_expression", "as_pattern_target", "list_splat_pattern"}
)
_LITERAL_TYPES = frozenset(
    {"string", "concatenated_string", "list", "list_comprehension", "dictionary",
     "dictionary_comprehension", "set", "set_comprehension", "tuple", "integer", "float"}
)
# What the walk does when it leaves an inner node of a type (the others cost nothing).
(_ATTRIBUTE, _CALL, _SUBSCRIPT, _ASSIGNMENT, _OPERATOR, _PATTERN, _PAREN, _IMPORT, _SCOPE,
 _AS_PATTERN, _WALRUS, _PY2_CALL, _DELETE, _LITERAL, _KEEP_CHILDREN) = range(1, 16)
_LEAVE_ACTIONS: dict[str, int] = {
    **{name: _LITERAL for name in _LITERAL_TYPES},
    **{name: _PATTERN for name in _PATTERN_TYPES},
    **{name: _SCOPE for name in _SCOPE_TYPES},
    **{name: _OPERATOR for name in OPERATOR_TYPES},
    "attribute": _ATTRIBUTE, "call": _CALL, "subscript": _SUBSCRIPT, "assignment": _ASSIGNMENT,
    "parenthesized_expression": _PAREN, "import_statement": _IMPORT,
    "import_from_statement": _IMPORT, "as_pattern": _AS_PATTERN, "named_expression": _WALRUS,
    "print_statement": _PY2_CALL, "exec_statement": _PY2_CALL, "delete_statement": _DELETE,
    "aliased_import": _KEEP_CHILDREN,
}

# What the walk does on entering a named node, per kind: leave it out of the graph; an
# identifier, a string, a number (leaves with a value); a dotted name (a value, and children);
# another leaf with a value; an inner node; one that opens a namespace or binds a loop target.
(_ANONYMOUS, _DROPPED, _IDENTIFIER, _STRING, _NUMBER, _DOTTED, _VALUE_LEAF, _INNER, _OPEN_SCOPE,
 _FOR) = range(10)
_VALUE_OPS = {"identifier": _IDENTIFIER, "string": _STRING, "integer": _NUMBER, "float": _NUMBER,
              "dotted_name": _DOTTED, "relative_import": _DOTTED}


def _kind_tables() -> tuple[list[str], list[int], list[int]]:
    """Per node kind id (tree-sitter's ``kind_id``): type name, entry op and leave action, so
    the walk does one list index per node instead of string comparisons."""
    size = ERROR_KIND + 1
    names, ops, actions = [""] * size, [_ANONYMOUS] * size, [0] * size
    for kind in range(LANGUAGE.node_kind_count):
        name = LANGUAGE.node_kind_for_id(kind) or ""
        names[kind] = name
        actions[kind] = _LEAVE_ACTIONS.get(name, 0)
        if not LANGUAGE.node_kind_is_named(kind):
            ops[kind] = _ANONYMOUS
        elif name in DROPPED_TYPES:
            ops[kind] = _DROPPED
        elif name in VALUE_TYPES:
            ops[kind] = _VALUE_OPS.get(name, _VALUE_LEAF)
        elif name in _SCOPE_TYPES:
            ops[kind] = _OPEN_SCOPE
        elif name == "for_statement":
            ops[kind] = _FOR
        else:
            ops[kind] = _INNER
    names[ERROR_KIND], ops[ERROR_KIND] = "ERROR", _INNER
    return names, ops, actions


_KIND_NAMES, _KIND_OPS, _KIND_ACTIONS = _kind_tables()
# Parents under which an identifier may be a parameter (the walk binds it as unknown).
_PARAMETER_PARENTS = _PARAMETER_LISTS | _PARAMETER_WRAPPERS
_CODE_LINE = re.compile(r"^[ \t\f]*[^\s#]", re.MULTILINE)

_local = threading.local()


def _parser() -> Parser:
    """One parser per thread: tree-sitter parsers are not thread-safe."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(LANGUAGE)
    return parser


@dataclass(slots=True)
class CodeFacts:
    """What one pass over a cell's tree yields (the parts of ParsedCell that come from code)."""

    graph: ASTGraph
    lines: int
    statements: int
    imports: int
    imported_modules: list[str]
    names_bound: list[str]
    single_expression: bool
    called_names: list[str]
    apis: list[str]
    magics: list[str]
    syntax_errors: int


def count_code_lines(source: str) -> int:
    """Non-blank lines that are not only a comment."""
    return len(_CODE_LINE.findall(source))


def _string_literal_text(literal: str) -> str:
    """The text inside a string literal's quotes (prefix and quotes removed)."""
    return literal.lstrip("rRbBuUfF").strip("'\"")


def _bound_identifiers(node: Node | None) -> list[str]:
    """Identifiers in a loop target (``x``, ``a, (b, c)``, ``*rest``): a small lookahead."""
    names: list[str] = []
    pending = [node] if node is not None else []
    while pending:
        current = pending.pop()
        if current.type == "identifier":
            names.append((current.text or b"").decode("utf-8", "ignore")[:MAX_VALUE_CHARS])
        elif current.type in _PATTERN_TYPES:
            pending.extend(reversed(current.named_children))
    return names


def _is_format_string(literal: str) -> bool:
    """Whether a string literal (its text) is an f-string, whose interpolations are code."""
    return literal[:1] in ("f", "F") or literal[1:2] in ("f", "F")


def _count_syntax_errors(root: Node, code: bytes) -> int:
    """ERROR and MISSING nodes in the parts of the tree the walk visits (a cell with errors
    only: subtrees without any are skipped). The root counts when it is itself an ERROR."""
    count = int(root.kind_id == ERROR_KIND)
    pending = [root]
    while pending:
        for child in pending.pop().children:
            if child.kind_id == ERROR_KIND or child.is_missing:
                count += 1
            if child.has_error and _walk_descends(child, code):
                pending.append(child)
    return count


def _walk_descends(node: Node, code: bytes) -> bool:
    """Whether the walk goes into a node's children (it skips leaves, plain strings...)."""
    op = _KIND_OPS[node.kind_id]
    if op == _STRING:
        return _is_format_string(code[node.start_byte : node.start_byte + 2].decode("utf-8", "ignore"))
    return op == _DOTTED or op >= _INNER


def analyse_code(source: str, scope: Scope | None = None) -> CodeFacts:
    """Parse one cell's source and resolve its calls in ``scope`` (updated in place)."""
    scope = scope if scope is not None else Scope()
    text = rewrite_magics(source)
    code = text.encode("utf-8", "replace")
    tree = _parser().parse(code)
    try:
        return _walk(tree.root_node, text, code, scope, count_code_lines(source))
    finally:
        scope.reset_nesting()


def _walk(root: Node, text: str, code: bytes, scope: Scope, lines: int) -> CodeFacts:  # noqa: C901
    """The single pass: graph arrays, features and resolution. The hot path: keep it flat.

    ``code`` is ``text`` encoded (tree-sitter's offsets are bytes); for an ASCII cell byte and
    character offsets agree, so values are sliced from ``text`` without decoding.
    """
    names, ops, actions = _KIND_NAMES, _KIND_OPS, _KIND_ACTIONS
    root_type = names[root.kind_id]  # "module", or "ERROR" for hopeless input
    types: list[str] = [root_type]
    values: list[str | None] = [None]
    parents: list[int] = [-1]
    evaluated: dict[int, Value] = {}  # graph index -> what the expression stands for
    children_of: dict[int, list[int]] = {}  # kept for binding patterns and imports
    called: list[str] = []
    apis: list[str] = []
    magics: list[str] = []
    imported: list[str] = []
    bound: list[str] = []
    imports = 0
    literal_values = scope.literal_values
    lookup = scope.lookup
    apis_of_call, call_result, attribute = scope.apis_of_call, scope.call_result, scope.attribute
    max_bytes = 4 * MAX_VALUE_CHARS

    def value_of(index: int) -> Value | None:
        """What an expression stands for; identifiers are looked up when first needed."""
        value = evaluated.get(index)
        if value is None and types[index] == "identifier":
            value = evaluated[index] = lookup(values[index] or "")
        return value

    def bind(target: int, value: Value | None) -> None:
        """Bind an assignment/with/walrus target (a name or a pattern of names)."""
        pending = [(target, value)]
        while pending:
            index, current = pending.pop()
            target_type = types[index]
            if target_type == "identifier":
                name = values[index] or ""
                scope.bind_result(name, current)
                if scope.at_module_level:
                    bound.append(name)
            elif target_type in _PATTERN_TYPES:
                elements = children_of.get(index, [])
                if target_type == "list_splat_pattern":
                    element_values: list[Value | None] = [None] * len(elements)
                elif target_type in ("parenthesized_expression", "as_pattern_target"):
                    element_values = [current] * len(elements)
                else:
                    element_values = scope.unpack_types(current, len(elements))
                pending.extend(reversed(list(zip(elements, element_values))))

    def record_magic(kind: str, kids: list[int]) -> None:
        name = ""
        if kind != "!" and len(kids) > 1:
            arguments = kids[1]
            first = arguments + 1  # preorder: a node's first child follows it
            if first < len(types) and parents[first] == arguments and types[first] == "string":
                name = _string_literal_text(values[first] or "").lstrip("%").split(" ", 1)[0]
        if name in HELP_MAGICS:
            magics.append("?")
            return
        magics.append(kind + name if kind != "!" else "!")
        star_module = STAR_IMPORT_MAGICS.get(name)
        if star_module is not None:
            scope.import_star(star_module)

    def import_names(node_type: str, kids: list[int]) -> None:
        if node_type == "import_statement":
            for kid in kids:
                if types[kid] == "aliased_import":
                    dotted, alias = values[children_of[kid][0]] or "", values[children_of[kid][-1]]
                else:
                    dotted, alias = values[kid] or "", None
                imported.append(dotted)
                scope.import_module(dotted, alias)
                if scope.at_module_level:
                    bound.append(alias or dotted.partition(".")[0])
            return
        if not kids:
            return
        module = values[kids[0]] or ""
        for kid in kids[1:]:
            kid_type = types[kid]
            if kid_type == "wildcard_import":
                imported.append(f"{module}.*")
                scope.import_star(module)
                continue
            if kid_type == "aliased_import":
                name, alias = values[children_of[kid][0]] or "", values[children_of[kid][-1]]
            else:
                name, alias = values[kid] or "", None
            imported.append(f"{module}.{name}")
            scope.import_from(module, name, alias)
            if scope.at_module_level:
                bound.append(alias or name)

    def leave(action: int, index: int, node_type: str, kids: list[int], tokens: list[str] | None,
              parent_type: str) -> None:
        """Post-order work on an inner node: resolution and features (calls and attributes,
        the commonest, are done in the walk's loop itself)."""
        nonlocal imports
        if action == _OPERATOR:
            values[index] = " ".join(tokens) if tokens else None
        elif action == _SUBSCRIPT:
            value = scope.subscript(value_of(kids[0]), types[kids[1]] if len(kids) > 1 else None)
            if value is not None:
                evaluated[index] = value
        elif action == _ASSIGNMENT:
            if tokens and "=" in tokens and len(kids) >= 2:
                value = value_of(kids[-1])
                bind(kids[0], value)
                if value is not None:
                    evaluated[index] = value
        elif action == _PATTERN or action == _PAREN:
            children_of[index] = kids
            if action == _PAREN:
                inner = value_of(kids[0]) if kids else None
                if inner is not None:
                    evaluated[index] = inner
            elif node_type in literal_values:
                evaluated[index] = literal_values[node_type]
        elif action == _LITERAL:
            evaluated[index] = literal_values[node_type]
        elif action == _KEEP_CHILDREN:
            children_of[index] = kids
        elif action == _IMPORT:
            import_names(node_type, kids)
            if scope.at_module_level:
                imports += 1
        elif action == _SCOPE:
            scope.pop()
            if node_type in literal_values:
                evaluated[index] = literal_values[node_type]
            elif kids and node_type in ("function_definition", "class_definition"):
                name = values[kids[0]] or ""
                scope.bind(name, UNKNOWN)
                if scope.at_module_level:
                    bound.append(name)
        elif action == _AS_PATTERN:
            if len(kids) == 2:
                bind(kids[1], None if parent_type == "except_clause" else value_of(kids[0]))
        elif action == _WALRUS:
            value = value_of(kids[-1])
            bind(kids[0], value)
            if value is not None:
                evaluated[index] = value
        elif action == _PY2_CALL:
            name = node_type.partition("_")[0]  # Python 2's print/exec statements are calls
            called.append(name)
            apis.append(name)
        elif action == _DELETE:
            for kid in (children_of.get(kids[0], kids) if kids else ()):
                if types[kid] == "identifier":
                    scope.bind(values[kid] or "", UNKNOWN)

    # One TreeCursor pass in preorder. The open node is ``frame_index`` (its parent is
    # ``parents[frame_index]``, so going up needs no stack). Only nodes with post-order work
    # keep a list of their children (and operator tokens): ``pending`` holds those open ones
    # as (index, action, children, tokens), the root at the bottom; the children of other
    # nodes go to a scratch list nobody reads.
    ascii_only = code.isascii()
    top_level: list[int] = []
    scratch: list[int] = []
    pending: list[tuple[int, int, list[int], list[str] | None]] = [(0, 0, top_level, None)]
    top_index, top_action, top_kids, top_tokens = pending[0]
    frame_index, frame_type, kids, tokens = 0, root_type, top_level, None
    append_type, append_value, append_parent = types.append, values.append, parents.append
    cursor = root.walk()
    goto_first_child, goto_next_sibling = cursor.goto_first_child, cursor.goto_next_sibling
    goto_parent = cursor.goto_parent
    walking = goto_first_child()
    while walking:
        node = cursor.node
        kind = node.kind_id
        op = ops[kind]
        if op == _ANONYMOUS:
            if tokens is not None:
                tokens.append(names[kind])
        elif op != _DROPPED:
            index = len(types)
            node_type = names[kind]
            append_type(node_type)
            append_parent(frame_index)
            kids.append(index)
            if op < _INNER:  # a node with a value: its source text, capped
                start = node.start_byte
                end = node.end_byte
                if ascii_only:
                    value = text[start : end if end - start <= MAX_VALUE_CHARS else start + MAX_VALUE_CHARS]
                else:
                    value = code[start : min(end, start + max_bytes)].decode("utf-8", "ignore")[:MAX_VALUE_CHARS]
                append_value(value)
                if op == _IDENTIFIER:
                    descend = False
                    if frame_type in _PARAMETER_PARENTS and (
                        frame_type in _PARAMETER_LISTS  # or the name of a default/typed/splat parameter
                        or (index == frame_index + 1 and types[parents[frame_index]] in _PARAMETER_LISTS)
                    ):
                        scope.bind(value, UNKNOWN)
                elif op == _NUMBER or (op == _STRING and not _is_format_string(value)):
                    evaluated[index] = literal_values[node_type]
                    descend = False
                else:  # f-string interpolations, dotted name parts
                    descend = op != _VALUE_LEAF
            else:
                append_value(None)
                descend = True
                if op == _OPEN_SCOPE:
                    scope.push()
                    if node_type in _COMPREHENSION_TYPES:
                        for clause in node.named_children:
                            if clause.type == "for_in_clause":
                                for name in _bound_identifiers(clause.child_by_field_name("left")):
                                    scope.bind(name, UNKNOWN)
                elif op == _FOR:  # the loop target is bound before the body is walked
                    for name in _bound_identifiers(node.child_by_field_name("left")):
                        scope.bind(name, UNKNOWN)
                        if scope.at_module_level:
                            bound.append(name)
            if descend and goto_first_child():
                frame_index, frame_type = index, node_type
                action = actions[kind]
                if action:
                    tokens = [] if action == _OPERATOR or action == _ASSIGNMENT else None
                    kids = []
                    top_index, top_action, top_kids, top_tokens = index, action, kids, tokens
                    pending.append((index, action, kids, tokens))
                else:
                    kids, tokens = scratch, None
                continue
            if op >= _INNER and actions[kind]:
                leave(actions[kind], index, node_type, [], None, frame_type)
        while not goto_next_sibling():
            if frame_index == 0:
                walking = False
                break
            goto_parent()
            finished = frame_index
            frame_index = parents[finished]
            frame_type = types[frame_index]
            if finished == top_index:
                action, finished_kids, finished_tokens = top_action, top_kids, top_tokens
                pending.pop()
                top_index, top_action, top_kids, top_tokens = pending[-1]
                if action == _CALL:  # the commonest post-order work: inlined, not in leave()
                    func = value_of(finished_kids[0])
                    if func is not None:
                        written = func.written
                        if written:
                            called.append(written)
                        apis.extend(apis_of_call(func))
                        evaluated[finished] = call_result(func)
                        magic_kind = MAGIC_METHODS.get(written)
                        if magic_kind is not None:
                            record_magic(magic_kind, finished_kids)
                elif action == _ATTRIBUTE:
                    evaluated[finished] = attribute(value_of(finished_kids[0]), values[finished_kids[-1]] or "")
                else:
                    leave(action, finished, types[finished], finished_kids, finished_tokens, frame_type)
            if top_index == frame_index:
                kids, tokens = top_kids, top_tokens
            else:
                kids, tokens = scratch, None

    first = top_level[0] if top_level else 0
    single_expression = (
        len(top_level) == 1
        and types[first] == "expression_statement"
        and first + 1 < len(types)
        and types[first + 1] not in ("assignment", "augmented_assignment")
        and not magics
    )
    return CodeFacts(
        graph=ASTGraph(types, values, parents),
        lines=lines,
        statements=len(top_level),
        imports=imports,
        imported_modules=imported,
        names_bound=bound,
        single_expression=single_expression,
        called_names=called,
        apis=apis,
        magics=magics,
        syntax_errors=_count_syntax_errors(root, code) if root.has_error else 0,
    )

def parse_code(source: str, scope: Scope | None = None) -> ParsedCell:
    """A standalone snippet as a ParsedCell (handy for trying labeling functions)."""
    return _parsed_cell(Cell("<code>", 0, "code", source), analyse_code(source, scope), 0.0)


def resolution_order(code_cells: list[Cell]) -> list[int]:
    """Positions (into ``code_cells``) in the order their code is resolved.

    Execution-count order when every non-empty code cell has a count and no count repeats
    (the notebook was run top to bottom once, perhaps out of file order); file order
    otherwise, since a partial or restarted run says nothing reliable about the rest.
    """
    counts = [cell.execution_count for cell in code_cells
              if isinstance(cell.source, str) and cell.source.strip()]
    if counts and None not in counts and len(set(counts)) == len(counts):
        # Cells that never ran (empty ones) go last: they bind nothing.
        return sorted(
            range(len(code_cells)),
            key=lambda position: (code_cells[position].execution_count is None,
                                  code_cells[position].execution_count or 0, position),
        )
    return list(range(len(code_cells)))


def parse_notebook(notebook: Notebook, problems: ProblemLog | None = None) -> list[ParsedCell]:
    """The notebook's code cells parsed, in file order, with APIs resolved across cells.

    Cells marked ``context_only`` are parsed for what they bind (and count in
    ``position``) but not returned: they are context, not items to label. The notebook's
    ``preamble`` is resolved first, for what it binds only.

    A cell that cannot be parsed at all is reported to ``problems`` (reason
    ``unparsable-cell``; ``None``: as a logged warning) and left out. Syntax errors are
    not problems: the partial tree is kept and counted.
    """
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    scope = Scope()
    if notebook.preamble:
        analyse_code(notebook.preamble, scope)
    facts: dict[int, CodeFacts] = {}
    for position in resolution_order(code_cells):
        cell = code_cells[position]
        try:
            if not isinstance(cell.source, str):
                raise TypeError(f"source is {type(cell.source).__name__}, not str")
            facts[position] = analyse_code(cell.source, scope)
        except (TypeError, ValueError, RecursionError, MemoryError) as error:
            detail = f"{type(error).__name__}: {error}"
            problem_log(problems).add(notebook.origin, cell.id, UNPARSABLE_CELL, detail)
    last = max(len(code_cells) - 1, 1)
    return [
        _parsed_cell(cell, facts[position], position / last)
        for position, cell in enumerate(code_cells)
        if position in facts and not cell.context_only
    ]


def _parsed_cell(cell: Cell, facts: CodeFacts, position: float) -> ParsedCell:
    apis = facts.apis
    if cell.funcs is not None:
        # CORAL's preprocessed corpus: its own qualified calls, as the paper used them, plus
        # the type-level names our tables imply ("pandas.read_csv.head" -> DataFrame.head).
        apis = []
        for func in cell.funcs:
            apis.append(func)
            apis.extend(name for name in typed_names(func) if name != func)
    return ParsedCell(
        id=cell.id,
        notebook_id=cell.notebook_id,
        index=cell.index,
        position=position,
        source=cell.source,
        markdown_above=cell.markdown_above,
        execution_count=cell.execution_count,
        nbgrader=cell.nbgrader,
        lines=facts.lines,
        statements=facts.statements,
        imports=facts.imports,
        imported_modules=facts.imported_modules,
        names_bound=facts.names_bound,
        single_expression=facts.single_expression,
        called_names=facts.called_names,
        apis=apis,
        magics=facts.magics,
        syntax_errors=facts.syntax_errors,
        graph=facts.graph,
        role=cell.role,
    )
