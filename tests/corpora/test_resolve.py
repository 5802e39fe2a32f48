"""API resolution across cells: imports, provenance, types, scopes and run order."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from coral.corpora.parse import parse_code, parse_notebook, resolution_order
from coral.corpora.readers import read_notebooks
from coral.corpora.records import Cell, Notebook
from coral.corpora.resolve import Scope, typed_names
from coral.problems import ProblemLog


def apis(*sources: str, counts: list[int | None] | None = None) -> list[list[str]]:
    """The apis of each code cell of a notebook made of ``sources``."""
    counts = counts or [None] * len(sources)
    cells = [Cell("nb", index, "code", source, execution_count=count)
             for index, (source, count) in enumerate(zip(sources, counts))]
    return [cell.apis for cell in parse_notebook(Notebook("nb", cells, origin="test"))]


def test_import_aliases_qualify_calls():
    assert apis(
        "import pandas as pd\nimport matplotlib.pyplot as plt\nimport os.path\n"
        "from sklearn.linear_model import LinearRegression as LR",
        "pd.read_csv(f)\nplt.show()\nos.path.join(a, b)\nLR()",
    )[1] == ["pandas.read_csv", "matplotlib.pyplot.show", "os.path.join",
             "sklearn.linear_model.LinearRegression"]


def test_provenance_and_type_level_names_across_cells():
    result = apis("import pandas as pd", "df = pd.read_csv(f)", "df.describe()",
                  "pd.read_csv(f).dropna()")
    assert result[2] == ["pandas.read_csv.describe", "pandas.DataFrame.describe"]
    assert result[3] == ["pandas.read_csv", "pandas.read_csv.dropna", "pandas.DataFrame.dropna"]


def test_reassignment_keeps_provenance_and_other_values_drop_it():
    result = apis("import pandas as pd\ndf = pd.read_csv(f)", "df = df.dropna()\ndf.head()",
                  "df = 3\ndf.head()", "df = load()\ndf.head()")
    assert result[1] == ["pandas.read_csv.dropna", "pandas.DataFrame.dropna",
                         "pandas.read_csv.dropna.head", "pandas.DataFrame.head"]
    assert result[2] == ["df.head", "int.head"]
    assert result[3] == ["load", "df.head"]


@pytest.mark.parametrize("shadow", ["pd = None", "import polars as pd", "def pd(): pass",
                                    "for pd in range(3): pass"])
def test_aliases_shadowed_later(shadow):
    result = apis("import pandas as pd", "pd.read_csv(f)", shadow, "pd.read_csv(f)")
    assert result[1] == ["pandas.read_csv"]
    expected = "polars.read_csv" if "polars" in shadow else "pd.read_csv"
    assert result[3] == [expected]


def test_function_scope_does_not_leak_and_parameters_shadow():
    result = apis(
        "import pandas as pd",
        "def load(path, pd=None):\n    import numpy as np\n    np.zeros(3)\n    return pd.read_csv(path)",
        "np.zeros(3)\npd.read_csv(f)",
        "lambda pd: pd.read_csv(f)\n[pd.concat(x) for pd in frames]\npd.concat(x)",
    )
    assert result[1] == ["numpy.zeros", "pd.read_csv"]
    assert result[2] == ["np.zeros", "pandas.read_csv"]
    assert result[3] == ["pd.read_csv", "pd.concat", "pandas.concat"]


def test_unknown_names_stay_as_written():
    assert apis("foo.bar()\nfoo.bar.baz(x)\nlen(x)") == [["foo.bar", "foo.bar.baz", "len"]]


def test_estimators_tuples_and_with():
    result = apis(
        "from sklearn.ensemble import RandomForestClassifier\nimport matplotlib.pyplot as plt\n"
        "import numpy as np",
        "clf = RandomForestClassifier().fit(X, y)\nclf.predict(X)",
        "fig, ax = plt.subplots()\nax.plot(x)",
        "with open(path) as handle:\n    handle.read()\narr = np.array(x)\narr.reshape(2, 2).sum()",
    )
    estimator = "sklearn.ensemble.RandomForestClassifier"
    assert result[1] == [estimator, f"{estimator}.fit", f"{estimator}.fit.predict",
                         f"{estimator}.predict"]
    assert result[2] == ["matplotlib.pyplot.subplots", "matplotlib.pyplot.subplots.plot",
                         "matplotlib.axes.Axes.plot"]
    assert result[3] == ["open", "handle.read", "numpy.array", "numpy.array.reshape",
                         "numpy.ndarray.reshape", "numpy.array.reshape.sum", "numpy.ndarray.sum"]


def test_subscripts_keep_provenance_and_know_column_types():
    result = apis("import pandas as pd\ndf = pd.read_csv(f)", "df['a'].value_counts()\n"
                  "df[['a', 'b']].mean()")
    assert result[1] == ["pandas.read_csv.value_counts", "pandas.Series.value_counts",
                         "pandas.read_csv.mean", "pandas.DataFrame.mean"]


def test_star_imports_of_known_modules():
    result = apis("from numpy import *\nfrom pylab import *\nfrom mystery import *",
                  "array([1])\nplot(x)\nrandn(3)\nwidget()")
    assert result[1] == ["numpy.array", "matplotlib.pyplot.plot", "numpy.random.randn", "widget"]
    assert apis("%pylab inline", "plot(x)")[1] == ["matplotlib.pyplot.plot"]


def test_unresolved_star_imports_are_remembered():
    scope = Scope()
    parse_code("from fastai.vision import *\nfrom numpy import *", scope)
    assert scope.unresolved_star_imports == ["fastai.vision"]


# Run order ----------------------------------------------------------------------------------


def test_execution_count_order_when_every_cell_that_ran_has_a_count(fixtures_dir):
    problems = ProblemLog()
    [nb] = read_notebooks([fixtures_dir / "parse" / "out_of_order.ipynb"], problems=problems)
    cells = parse_notebook(nb, problems)
    assert len(problems) == 0
    assert [cell.index for cell in cells] == [1, 2, 3, 4]  # file order in the output
    assert cells[0].apis == ["pandas.read_csv", "pandas.read_csv.head", "pandas.DataFrame.head"]
    assert "sklearn.linear_model.LinearRegression.fit" in cells[1].apis
    assert cells[1].magics == ["%matplotlib"]


def test_file_order_when_counts_are_missing_or_repeated():
    cells = [Cell("nb", i, "code", source, execution_count=count) for i, (source, count) in
             enumerate([("x = 1", 2), ("y = 2", None), ("", None), ("z = 3", 1)])]
    assert resolution_order(cells) == [0, 1, 2, 3]
    cells[1].execution_count = 3
    assert resolution_order(cells) == [3, 0, 1, 2]
    cells[1].execution_count = 2
    assert resolution_order(cells) == [0, 1, 2, 3]
    assert apis("df = pd.read_csv(f)", "import pandas as pd", counts=[2, 2])[0] == ["pd.read_csv"]


def test_typed_names_for_coral_funcs():
    assert typed_names("pandas.read_csv.merge.groupby") == [
        "pandas.DataFrame.merge", "pandas.DataFrame.groupby"]
    assert typed_names("sklearn.svm.SVC.fit.predict") == ["sklearn.svm.SVC.fit",
                                                          "sklearn.svm.SVC.predict"]
    assert typed_names("print") == [] and typed_names("head") == []


# The real corpora -----------------------------------------------------------------------------


@pytest.mark.shared
def test_gh_dev_notebooks_parse_and_common_calls_resolve(shared_dir):
    wanted = {json.loads(line)["id"].rpartition("#")[0]
              for line in (shared_dir / "annotations" / "gh-dev.jsonl").read_text().splitlines()}
    problems = ProblemLog()
    counts: Counter[str] = Counter()
    parsed = 0
    for nb in read_notebooks(sorted((shared_dir / "corpora" / "github").glob("part-*.jsonl.gz")),
                             problems=problems):
        if nb.id in wanted:
            for cell in parse_notebook(nb, problems):
                parsed += 1
                counts.update(cell.apis)
    assert parsed == 331
    assert not [p for p in problems if p.reason == "unparsable-cell"]
    top = {name for name, _ in counts.most_common(60)}
    assert {"pandas.read_csv", "pandas.DataFrame.head"} <= top


@pytest.mark.shared
def test_coral_sample_cells_parse(shared_dir):
    problems = ProblemLog()
    cells = [cell for nb in read_notebooks([shared_dir / "corpora" / "coral-ucsd-sample" / "train.txt"],
                                           format="coral", problems=problems)
             for cell in parse_notebook(nb, problems)]
    assert len(cells) == 1000
    assert sum(cell.syntax_errors == 0 for cell in cells) > 900
    assert any("get_ipython.run_line_magic" in cell.apis for cell in cells)
    assert sum(bool(cell.magics) for cell in cells) > 50
