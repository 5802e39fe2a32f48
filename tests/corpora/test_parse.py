"""The tree-sitter pass: graphs, per-cell features, IPython syntax, Python 2, bad input."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coral.corpora.magics import rewrite_magics
from coral.corpora.parse import MAX_VALUE_CHARS, _parser, parse_code, parse_notebook
from coral.corpora.records import Cell, Notebook
from coral.problems import ProblemLog


def notebook(*sources: str, counts: list[int | None] | None = None) -> Notebook:
    counts = counts or [None] * len(sources)
    cells = [Cell("nb", 0, "markdown", "# Title")]
    cells += [
        Cell("nb", index, "code", source, execution_count=count)
        for index, (source, count) in enumerate(zip(sources, counts), start=1)
    ]
    return Notebook("nb", cells, origin="test.ipynb")


def assert_valid_graph(graph) -> None:
    assert len(graph.types) == len(graph.values) == len(graph.parents)
    assert graph.parents[0] == -1
    assert all(0 <= parent < index for index, parent in enumerate(graph.parents) if index)


# Graph ------------------------------------------------------------------------------------


def test_graph_is_preorder_of_named_nodes_without_punctuation():
    cell = parse_code("x = f(a, b)  # comment\n")
    assert cell.graph.types == [
        "module", "expression_statement", "assignment", "identifier", "call", "identifier",
        "argument_list", "identifier", "identifier",
    ]
    assert cell.graph.parents == [-1, 0, 1, 2, 2, 4, 4, 6, 6]
    assert cell.graph.values[3] == "x" and cell.graph.values[5] == "f"
    assert "comment" not in cell.graph.types and "(" not in cell.graph.types


def test_operators_are_the_values_of_their_nodes():
    cell = parse_code("y = a + b\nz = a not in b\nw = not a\ny += 1\nq = -a")
    operators = {
        (node_type, value)
        for node_type, value in zip(cell.graph.types, cell.graph.values)
        if node_type.endswith("operator") or node_type == "augmented_assignment"
    }
    assert operators == {
        ("binary_operator", "+"), ("comparison_operator", "not in"),
        ("augmented_assignment", "+="), ("unary_operator", "-"), ("not_operator", None),
    }


def test_strings_are_one_node_with_capped_value_and_fstring_interpolations_kept():
    long_literal = "'" + "x" * 500 + "'"
    cell = parse_code(f"a = {long_literal}\nb = f'{{np.mean(v)}} done'")
    strings = [value for node_type, value in zip(cell.graph.types, cell.graph.values)
               if node_type == "string"]
    assert strings[0] == long_literal[:MAX_VALUE_CHARS]
    assert "string_content" not in cell.graph.types
    assert "interpolation" in cell.graph.types
    assert cell.called_names == ["np.mean"]


def test_values_of_non_ascii_cells_match_their_ascii_twins():
    # An ASCII cell's values are sliced from the text, any other cell's decoded from bytes.
    plain = parse_code("x = f(a, 'b')\n")
    accented = parse_code("x = f(a, 'b')\n# café\n")
    assert accented.graph.types == plain.graph.types and accented.graph.values == plain.graph.values
    cell = parse_code("données = 'é" + "ü" * 100 + "'\nλ = données.mean()")
    values = cell.graph.values
    assert values[3] == "données" and values[4] == ("'é" + "ü" * 100)[:MAX_VALUE_CHARS]
    assert cell.called_names == ["données.mean"]


@pytest.mark.parametrize("source", ["x = (1 +\ndf.head()", "def f(:\n    pass", "print('a' +", "a b c",
                                    "f(x for)", "x = [1, 2"])
def test_syntax_errors_count_every_error_and_missing_node(source):
    tree = _parser().parse(source.encode())
    expected, pending = 0, [tree.root_node]
    while pending:
        node = pending.pop()
        expected += node.type == "ERROR" or node.is_missing
        pending.extend(node.children)
    assert parse_code(source).syntax_errors == expected > 0


# Features ---------------------------------------------------------------------------------


def test_cell_features():
    cell = parse_code(
        "# load\nimport pandas as pd\nfrom os import path as p, sep\n\n"
        "df = pd.read_csv('a.csv')\nfor row in df: pass\n"
        "def helper(x):\n    import numpy\n    return x\nclass Model: pass\n"
    )
    assert cell.lines == 8
    assert cell.statements == 6
    assert cell.imports == 2  # the function-local import is not at module level
    assert cell.imported_modules == ["pandas", "os.path", "os.sep", "numpy"]
    assert cell.names_bound == ["pd", "p", "sep", "df", "row", "helper", "Model"]
    assert not cell.single_expression
    assert cell.called_names == ["pd.read_csv"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [("df.head()", True), ("df", True), ("x = 1", False), ("x += 1", False),
     ("a\nb", False), ("%matplotlib inline", False), ("", False), ("import os", False)],
)
def test_single_expression(source, expected):
    assert parse_code(source).single_expression is expected


# IPython syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "magics"),
    [
        ("%matplotlib inline", ["%matplotlib"]),
        ("%%bash\nls -la | head\nfor f in *; do echo $f; done", ["%%bash"]),
        ("!pip install pandas", ["!"]),
        ("files = !ls *.csv", ["!"]),
        ("out = !!ls", ["!"]),
        ("x = %env HOME", ["%env"]),
        ("df.describe?", ["?"]),
        ("pd.read_csv??", ["?"]),
        ("?pd.read_csv", ["?"]),
        ("%load_ext autoreload\n%autoreload 2", ["%load_ext", "%autoreload"]),
        ("if True:\n    %time f()\n    !echo hi", ["%time", "!"]),
        ("get_ipython().run_line_magic('matplotlib', 'inline')", ["%matplotlib"]),
        ("get_ipython().magic('pylab inline')", ["%pylab"]),
        ("get_ipython().system('ls')", ["!"]),
        ("get_ipython().run_cell_magic('writefile', 'a.py', 'x = 1')", ["%%writefile"]),
    ],
)
def test_magics_are_recognised_without_syntax_errors(source, magics):
    cell = parse_code(source)
    assert cell.magics == magics
    assert cell.syntax_errors == 0
    assert cell.statements >= 1


def test_magic_graph_is_the_graph_of_ipythons_own_rewrite():
    raw = parse_code("%matplotlib inline")
    converted = parse_code("get_ipython().run_line_magic('matplotlib', 'inline')")
    assert raw.graph == converted.graph
    assert raw.apis == converted.apis == ["get_ipython", "get_ipython.run_line_magic"]


def test_timing_magics_keep_their_code_as_code():
    cell = parse_code("%%time\nmodel.fit(X, y)\nscores = model.score(X, y)")
    assert cell.magics == ["%%time"]
    assert "model.fit" in cell.called_names and "scores" in cell.names_bound
    line = parse_code("%timeit -n 10 -r 3 np.dot(a, b)")
    assert "np.dot" in line.called_names and line.syntax_errors == 0


def test_non_python_cell_magic_body_is_a_string():
    cell = parse_code("%%bash\nif [ -f x ]; then rm x; fi")
    assert cell.syntax_errors == 0
    assert cell.called_names == ["get_ipython", "get_ipython.run_cell_magic"]


def test_percent_and_bang_inside_expressions_and_strings_are_left_alone():
    source = (
        'print("%d items"\n      % n)\nx = (a\n     != b)\n'
        'doc = """\n%not a magic\n!nor this\n"""\ny = 10 % 3'
    )
    assert rewrite_magics(source) == source
    cell = parse_code(source)
    assert cell.magics == [] and cell.syntax_errors == 0


def test_cells_without_ipython_syntax_are_not_touched():
    source = "a = b % c\nprint('what?')\n"
    assert rewrite_magics(source) is source


# Python 2 and syntax errors ---------------------------------------------------------------


def test_python2_code_parses_and_print_counts_as_a_call():
    cell = parse_code('print "hello", x\ntry:\n    pass\nexcept ValueError, e:\n    print e')
    assert cell.syntax_errors == 0
    assert cell.called_names == ["print", "print"]
    assert cell.apis == ["print", "print"]


def test_syntax_errors_keep_a_partial_tree():
    cell = parse_code("import pandas as pd\ndf = pd.read_csv(f)\nx = (1 +\ndf.head()")
    assert cell.syntax_errors > 0
    assert "pandas.read_csv" in cell.apis
    assert_valid_graph(cell.graph)


# Bad input never crashes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "(" * 5000 + "x" + ")" * 5000,
        "f(" * 5000 + ")" * 5000,
        "a" + ".b" * 5000 + "()",
        "[" * 5000,
        "".join(" " * depth + "if x:\n" for depth in range(400)) + " " * 400 + "pass",
        bytes(range(256)).decode("latin-1") * 20,
        "x = '\ud800'\x00\x01",
        "",
        "   \n\n\t",
    ],
    ids=["parens", "calls", "attributes", "unclosed", "blocks", "junk", "surrogate", "empty",
         "blank"],
)
def test_hostile_input(source):
    cell = parse_code(source)
    assert_valid_graph(cell.graph)
    assert all(value is None or len(value) <= MAX_VALUE_CHARS for value in cell.graph.values)
    assert all(len(name) <= 300 for name in cell.called_names + cell.apis)


def test_megabyte_cell():
    cell = parse_code("df = df.dropna()\n" * 60_000)
    assert cell.statements == 60_000 and cell.lines == 60_000
    assert_valid_graph(cell.graph)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=string.printable + "%!?αλ\u2028", max_size=300))
def test_any_text_gives_a_valid_graph(source):
    cell = parse_code(source)
    assert_valid_graph(cell.graph)
    assert cell.syntax_errors >= 0 and cell.statements >= 0


# Notebooks --------------------------------------------------------------------------------


def test_parse_notebook_returns_code_cells_in_file_order_with_positions():
    cells = parse_notebook(notebook("import os", "", "os.getcwd()"))
    assert [cell.id for cell in cells] == ["nb#1", "nb#2", "nb#3"]
    assert [cell.position for cell in cells] == [0.0, 0.5, 1.0]
    assert cells[2].apis == ["os.getcwd"]
    assert cells[0].markdown_above == "" and cells[0].notebook_id == "nb"


def test_single_code_cell_has_position_zero():
    assert parse_notebook(notebook("x = 1"))[0].position == 0.0


def test_unusable_cell_is_reported_not_dropped_silently(caplog):
    broken = notebook("x = 1", "y = 2")
    broken.cells[2].source = None  # type: ignore[assignment]
    problems = ProblemLog()
    cells = parse_notebook(broken, problems)
    assert [cell.id for cell in cells] == ["nb#1"]
    [problem] = list(problems)
    assert problem.item == "nb#2" and problem.reason == "unparsable-cell"
    assert problem.origin == "test.ipynb"
    with caplog.at_level("WARNING", logger="coral.problems"):  # no log given: a warning names the cell
        assert [cell.id for cell in parse_notebook(broken)] == ["nb#1"]
    assert "nb#2" in caplog.text and "unparsable-cell" in caplog.text


def test_coral_format_cells_use_their_own_funcs():
    cell = Cell("coral", 0, "code", "df = pd.read_csv(f)\ndf.head()", id="1234",
                funcs=["pandas.read_csv", "pandas.read_csv.head", "get_ipython.system"],
                coral_nodes=[{"type": "Module"}])
    [parsed] = parse_notebook(Notebook("coral", [cell], origin="train.txt"))
    assert parsed.id == "1234"
    assert parsed.apis == ["pandas.read_csv", "pandas.read_csv.head", "pandas.DataFrame.head",
                           "get_ipython.system"]
    assert parsed.called_names == ["pd.read_csv", "df.head"]
    assert parsed.graph.types[0] == "module" and len(parsed.graph) > 5
