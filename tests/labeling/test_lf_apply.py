"""The label matrix: our applier against Snorkel's, and clear LF errors."""

from __future__ import annotations

import numpy as np
import pytest
from snorkel.labeling import LFApplier, PandasLFApplier, labeling_function

from coral.labeling.apply import LabelingFunctionError, apply_lfs, cells_to_frame
from coral.labeling.lfsets import load_lf_sets, load_lfs
from coral.problems import ProblemLog
from coral.stages import Stage


@pytest.fixture
def cells(make_cell):
    return [
        make_cell("import os", id="a#0", statements=1, imports=1, names_bound=["os"]),
        make_cell("df = pd.read_csv(p)", id="a#1", apis=["pandas.read_csv"], names_bound=["df"],
                  called_names=["pd.read_csv"]),
        make_cell("df.describe()", id="a#2", apis=["pandas.read_csv.describe"], called_names=["df.describe"]),
        make_cell("m = SVC().fit(X, y)\nacc = accuracy_score(y, m.predict(X))", id="a#3", lines=2,
                  statements=2, names_bound=["m", "acc"],
                  apis=["sklearn.svm.SVC", "sklearn.metrics.accuracy_score"]),
        make_cell("def f(a):\n    return a", id="a#4", lines=2, names_bound=["f"]),
        make_cell("x = train_test_split(df)", id="a#5", names_bound=["x"], markdown_above="Random forest"),
        make_cell("df", id="a#6", statements=1),
    ]


def test_matrix_matches_snorkels_appliers(cells, fixtures_dir):
    lfs = load_lf_sets(["paper", str(fixtures_dir / "labeling" / "my_lfs.py")])
    L = apply_lfs(cells, lfs)
    assert L.shape == (len(cells), len(lfs))
    assert (L != -1).sum() > len(cells)  # the fixture exercises several LFs
    np.testing.assert_array_equal(L, LFApplier(lfs).apply(cells, progress_bar=False))
    # Pandas rows are Series, not ParsedCells: the user file's preprocessor (which copies a
    # dataclass) is for ParsedCells only, so compare the paper's LFs there.
    paper = load_lfs("paper")
    frame = cells_to_frame(cells)
    np.testing.assert_array_equal(L[:, : len(paper)], PandasLFApplier(paper).apply(frame, progress_bar=False))


def test_matrix_values(cells):
    lfs = load_lfs("paper")
    L = apply_lfs(cells, lfs)
    names = [lf.name for lf in lfs]
    column = {name: L[:, j].tolist() for j, name in enumerate(names)}
    assert column["paper_imports_import"] == [0, -1, -1, -1, -1, -1, -1]
    assert column["paper_seed_wrangle"] == [-1, 1, -1, -1, -1, -1, -1]
    assert column["paper_one_line_explore"] == [-1, -1, -1, -1, -1, -1, 2]
    assert column["paper_seed_evaluate"] == [-1, -1, -1, 4, -1, -1, -1]
    assert column["paper_markdown_model"] == [-1, -1, -1, -1, -1, 3, -1]
    assert not (L[4] != -1).any()


def test_empty_input_gives_empty_matrix():
    lfs = load_lfs("paper")
    assert apply_lfs([], lfs).shape == (0, len(lfs))


def test_raising_lf_names_itself_and_the_cell(make_cell, fixtures_dir):
    lfs = load_lfs(str(fixtures_dir / "labeling" / "raising_lfs.py"))
    cells = [make_cell("x", id="nb#1"), make_cell("", id="nb#2", lines=0)]
    with pytest.raises(LabelingFunctionError) as error:
        apply_lfs(cells, lfs)
    assert "'divides_by_lines'" in str(error.value) and "'nb#2'" in str(error.value)
    assert "ZeroDivisionError" in str(error.value)


def test_log_mode_records_failures_and_abstains(make_cell, fixtures_dir):
    lfs = load_lfs(str(fixtures_dir / "labeling" / "raising_lfs.py"))
    problems = ProblemLog()
    L = apply_lfs([make_cell("x", id="nb#1"), make_cell("", id="nb#2", lines=0)], lfs, on_error="log",
                  problems=problems)
    assert L.tolist() == [[1], [-1]]
    (problem,) = list(problems)
    assert (problem.item, problem.reason, problem.origin) == ("nb#2", "lf-error", "lf:divides_by_lines")


@pytest.mark.parametrize("bad", [None, 7, "EXPLORE", 2.0])
def test_non_label_return_values_are_errors(make_cell, bad):
    @labeling_function(name="sloppy")
    def sloppy(x):
        return bad

    with pytest.raises(LabelingFunctionError, match="'sloppy' failed on cell 'nb#0': returned"):
        apply_lfs([make_cell()], [sloppy])


def test_stage_enum_and_numpy_integers_are_labels(make_cell):
    @labeling_function()
    def enum_vote(x):
        return Stage.MODEL

    @labeling_function()
    def numpy_vote(x):
        return np.int64(4)

    assert apply_lfs([make_cell()], [enum_vote, numpy_vote]).tolist() == [[3, 4]]


def test_structural_lfs_agree_across_appliers_that_reuse_row_objects():
    """pandas hands PandasLFApplier one Series object for every row: the memoized cell facts
    must follow the row, not the object."""
    from coral.corpora.parse import parse_code

    sources = ["df = pd.read_csv('a.csv')\ndf.head()", "df.describe()", "clf.fit(X, y)", "plt.hist(df.a)",
               "y_pred = clf.predict(X)", "import os\nSEED = 1", "df['a'] = 1", "df.describe()"]
    parsed = [parse_code(source) for source in sources]
    lfs = load_lfs("extended")
    L = apply_lfs(parsed, lfs)
    assert len({tuple(row) for row in L.tolist()}) >= 6  # the cells get different votes
    np.testing.assert_array_equal(L, LFApplier(lfs).apply(parsed, progress_bar=False))
    np.testing.assert_array_equal(L, PandasLFApplier(lfs).apply(cells_to_frame(parsed), progress_bar=False))
