"""The extended set's structural LFs on cells parsed by the real parser."""

from __future__ import annotations

from dataclasses import replace

import pytest

from coral.corpora.parse import parse_code, parse_notebook
from coral.corpora.records import Cell, Notebook
from coral.labeling.lfs.cellfacts import cell_facts, top_level_statements
from coral.labeling.lfsets import load_lfs
from coral.stages import ABSTAIN, Stage


def votes(source: str) -> dict[str, int]:
    cell = parse_code(source)
    return {lf.name: lf(cell) for lf in load_lfs("extended") if lf(cell) != ABSTAIN}


def test_statement_kinds():
    cell = parse_code(
        "import os\n%matplotlib inline\nSEED = 1\ndf = pd.read_csv(p)\nclass Net(nn.Module):\n    pass\n"
        "df.head()\ndf\ndf['a'] = 1\ndf.dropna(inplace=True)\nfor c in cols:\n    df[c] = 0\ndel df['b']"
    )
    kinds = [(s.kind, s.callee, s.target, s.mutates) for s in top_level_statements(cell)]
    assert kinds == [
        ("import", "", "", False), ("magic", "", "", False), ("assign", "", "SEED", False),
        ("assign", "read_csv", "df", False), ("class", "", "", False), ("call", "head", "", False),
        ("display", "", "", False), ("assign", "", "", True), ("call", "dropna", "", True),
        ("loop", "", "", True), ("delete", "", "", True),
    ]
    assert top_level_statements(cell)[4].bases == ("nn", "Module")


def test_identifier_words_skip_imports_comments_strings_and_exception_names():
    cell = parse_code(
        "from sklearn.metrics import accuracy_score\n# the error rate\ntry:\n    y_pred2 = f('rmse')\n"
        "except IndexError:\n    pass"
    )
    words = cell_facts(cell).words
    assert {"pred", "pred2", "ypred2", "y"} <= words
    assert not words & {"accuracy", "score", "error", "rmse", "index"}


def test_facts_are_memoized_per_cell_object_not_per_id():
    first = parse_code("df.head()")
    second = replace(parse_code("model.fit(X, y)"), id=first.id)
    assert cell_facts(first) is cell_facts(first)
    assert cell_facts(second).methods == {"fit"}
    assert cell_facts(first).methods == {"head"}


@pytest.mark.parametrize(
    ("source", "lf", "stage"),
    [
        ("import numpy as np\n%matplotlib inline\nnp.random.seed(0)\nMAX_LEN = 10", "ext_setup_only", Stage.IMPORT),
        ("df.groupby('a').mean()", "ext_looks_at_data", Stage.EXPLORE),
        ("print(df.shape)\ndf.describe()", "ext_looks_at_data", Stage.EXPLORE),
        ("for c in df.columns:\n    share = df[c].isna().mean()\n    print(c, share)", "ext_prints_in_loop",
         Stage.EXPLORE),
        ("df = pd.read_csv('a.csv')\ndf.head()", "ext_prepares_then_shows", Stage.WRANGLE),
        ("df['age'] = df['age'].fillna(0)\ny = df.pop('label')", "ext_prepares_data", Stage.WRANGLE),
        ("for c in cols:\n    df[c] = df[c].astype(int)", "ext_prepares_data", Stage.WRANGLE),
        ("plt.hist(df.age)\nplt.show()", "ext_plots_data", Stage.EXPLORE),
        ("plt.plot(history.history['loss'])\nplt.show()", "ext_plots_model_results", Stage.EVALUATE),
        ("class Net(nn.Module):\n    def forward(self, x):\n        return x", "ext_defines_model", Stage.MODEL),
        ("clf = RandomForestClassifier(n_estimators=10)", "ext_builds_estimator", Stage.MODEL),
        ("log_cv = LogisticRegressionCV(n_jobs=-1)", "ext_builds_estimator", Stage.MODEL),
        ("param_grid = {'max_depth': [3, 5], 'n_estimators': [10, 100]}", "ext_sets_up_search", Stage.MODEL),
        ("print(accuracy_score(y_test, clf.predict(X_test)))", "ext_scores_without_fitting", Stage.EVALUATE),
        ("pd.Series(clf.feature_importances_).sort_values()", "ext_inspects_fitted_model", Stage.EVALUATE),
        ("y_pred = clf.predict(X_test)", "ext_predicts_or_shows_results", Stage.EVALUATE),
        ("print(rmse)", "ext_predicts_or_shows_results", Stage.EVALUATE),
        # modeling and evaluation written by hand
        ("def compute_cost(X, y, theta):\n    return ((X @ theta - y) ** 2).mean()", "ext_defines_model", Stage.MODEL),
        ("class NeuralNetwork(object):\n    def forward(self, x):\n        return x", "ext_defines_model", Stage.MODEL),
        ("for epoch in range(10):\n    loss = step(w)\n    w -= lr * grad(w)", "ext_defines_model", Stage.MODEL),
        ("for xb, yb in loader:\n    model.train_on_batch(xb, yb)", "ext_defines_model", Stage.MODEL),
        ("def mae(target, predictions):\n    return np.mean(np.abs(predictions - target))", "ext_defines_metric",
         Stage.EVALUATE),
        ("stats.kruskal(a, b, c)", "ext_scores_without_fitting", Stage.EVALUATE),
        ("means = df.groupby('k')['v'].mean().reset_index()\nmeans", "ext_summarises_then_shows", Stage.EXPLORE),
    ],
)
def test_structural_lfs_fire_on_their_cue(source, lf, stage):
    assert votes(source).get(lf) == stage


@pytest.mark.parametrize(
    ("source", "silent"),
    [
        # binds a value: not only looking (rubric: preparing, then checking the result)
        ("df = pd.read_csv('a.csv')\ndf.head()", "ext_looks_at_data"),
        # showing a model's output is not looking at data
        ("y_pred", "ext_looks_at_data"),
        ("print(clf.score(X, y))", "ext_looks_at_data"),
        # a statistic bound and printed is exploring, not preparing
        ("m = np.mean(x)\nprint(m)", "ext_prepares_then_shows"),
        # predictions are not data preparation; a grid search's predictions are not set-up
        ("pred = model.predict(X)", "ext_prepares_data"),
        ("predict_test = grid_search.predict(x_test)", "ext_sets_up_search"),
        # plots of predictions are not plots of data; a set-up cell's helper is not a plot
        ("plt.scatter(y_test, y_pred)", "ext_plots_data"),
        ("import matplotlib.pyplot as plt\nimport numpy as np\ndef save(f):\n    plt.savefig(f)", "ext_plots_data"),
        # a single-letter name is data, not a constant
        ("X = vectorizer.fit_transform(df.txt)", "ext_setup_only"),
        # a with block that reads a file is loading, not looking
        ("with open('a.csv') as f:\n    for line in csv.reader(f):\n        print(line)", "ext_prints_in_loop"),
        # a loop that changes the data while printing is preparing it
        ("for c in cols:\n    df[c] = df[c].fillna(0)\n    print(c)", "ext_prints_in_loop"),
        ("for c in cols:\n    seen.append(c)\n    print(c)", "ext_prints_in_loop"),
        # printing inside a training loop is modeling
        ("for epoch in range(3):\n    loss = step()\n    print(epoch, loss)", "ext_prints_in_loop"),
        # an exception named IndexError is no model error
        ("for i in range(3):\n    try:\n        print(r[i])\n    except IndexError:\n        pass",
         "ext_predicts_or_shows_results"),
        # a training-and-evaluation helper is modeling (fit and score in one cell is MODEL)
        ("def train_and_score(X, y):\n    return 1", "ext_defines_metric"),
        # a function that does something else besides defining is not only a definition
        ("def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\nprint(sigmoid(0))", "ext_defines_model"),
        # a summary bound after reshaping is preparing; without a summary it is not exploring
        ("means = df.drop(columns='x').groupby('k').mean()\nmeans", "ext_summarises_then_shows"),
        ("means = df.groupby('k').mean()\nmeans", "ext_prepares_then_shows"),
        ("x = f(df)\nx", "ext_summarises_then_shows"),
    ],
)
def test_structural_lfs_abstain_off_their_cue(source, silent):
    assert silent not in votes(source)


def test_fit_and_score_in_one_cell_is_model_not_evaluate():
    fired = votes("clf.fit(X, y)\nprint(clf.score(X_test, y_test))")
    assert fired.get("ext_calls_fit") == Stage.MODEL
    assert not {name for name, stage in fired.items() if stage != Stage.MODEL}


def test_what_a_fit_returned_is_evaluated_not_explored():
    sources = ["import statsmodels.formula.api as smf", "res = smf.ols('y ~ x', df).fit()", "res.summary()",
               "scaler = StandardScaler().fit(X)\nX2 = scaler.transform(X)"]
    notebook = Notebook(id="n", origin="test", cells=[
        Cell(notebook_id="n", index=i, cell_type="code", source=source) for i, source in enumerate(sources)])
    _, fit, summary, scale = parse_notebook(notebook)
    lfs = {lf.name: lf for lf in load_lfs("extended")}
    assert lfs["ext_reads_fitted_results"](summary) == Stage.EVALUATE
    assert lfs["ext_looks_at_data"](summary) == ABSTAIN
    assert lfs["ext_reads_fitted_results"](fit) == ABSTAIN  # fitting is MODEL
    assert not cell_facts(scale).uses_fitted_results  # a scaler's fit.transform prepares data


def test_loading_data_for_a_plot_is_not_data_preparation():
    fired = votes("import pandas as pd\ndf = pd.read_csv('a.csv')\nplt.plot(df.x, df.y)")
    assert "ext_api_load_data" not in fired and fired.get("ext_plots_data") == Stage.EXPLORE
    assert votes("import pandas as pd\ndf = pd.read_csv('a.csv')").get("ext_api_load_data") == Stage.WRANGLE


def test_imports_with_a_little_work_get_the_stage_of_the_work():
    fired = votes("import pickle\nwith open('a.p', 'rb') as f:\n    data = pickle.load(f)")
    assert set(fired.values()) == {Stage.WRANGLE}
    assert votes("import numpy as np\nnp.random.seed(0)") == {"ext_setup_only": Stage.IMPORT}


def test_a_method_on_a_loaded_frame_is_not_loading():
    load_data = next(lf for lf in load_lfs("extended") if lf.name == "ext_api_load_data")
    cell = parse_code("data.head()")
    assert load_data(replace(cell, apis=["pandas.io.stata.read_stata"])) == Stage.WRANGLE
    assert load_data(replace(cell, apis=["pandas.io.stata.read_stata.head"])) == ABSTAIN
