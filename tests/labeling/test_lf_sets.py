"""Seed files, the paper's LFs and loading LF sets by name, file or module."""

from __future__ import annotations

from pathlib import Path

import pytest

from coral.labeling.lfs.paper import python_ast_counts
from coral.labeling.lfsets import LFLoadError, describe_lf, load_lf_sets, load_lfs
from coral.labeling.seedfiles import SEEDS_DIR, SeedFileError, read_seed_rules
from coral.stages import ABSTAIN, Stage


def lf_named(lfs, name):
    return next(lf for lf in lfs if lf.name == name)


def test_paper_seed_file_holds_the_39_seed_apis():
    rules = read_seed_rules(SEEDS_DIR / "paper.yaml")
    seeds = [api for rule in rules for api in rule.apis]
    assert len(seeds) == len(set(seeds)) == 39
    by_stage = {rule.stage: len(rule.apis) for rule in rules if rule.apis}
    assert by_stage == {Stage.WRANGLE: 9, Stage.EXPLORE: 9, Stage.MODEL: 15, Stage.EVALUATE: 6}


@pytest.mark.parametrize(
    ("apis", "expected"),
    [
        (["pandas.read_csv"], {"paper_seed_wrangle": Stage.WRANGLE}),
        (["pandas.read_csv.describe"], {"paper_seed_explore": Stage.EXPLORE}),
        (["sklearn.svm.SVC", "sklearn.metrics.accuracy_score"],
         {"paper_seed_model": Stage.MODEL, "paper_seed_evaluate": Stage.EVALUATE}),
        (["pandas.read_json", "sklearn.svm.SVR"], {}),
    ],
)
def test_paper_seed_lfs_vote_their_stage_on_exact_apis(make_cell, apis, expected):
    lfs = load_lfs("paper")
    cell = make_cell("y = f(x)", apis=apis, names_bound=["y"])
    votes = {lf.name: lf(cell) for lf in lfs if lf(cell) != ABSTAIN}
    assert votes == expected


def test_paper_structural_rules(make_cell):
    lfs = load_lfs("paper")
    one_line = lf_named(lfs, "paper_one_line_explore")
    imports = lf_named(lfs, "paper_imports_import")
    # Only a bare name or constant is the reference's one-liner (Module -> Expr -> one node).
    assert one_line(make_cell("df")) == one_line(make_cell("\n42\n")) == Stage.EXPLORE
    assert one_line(make_cell("df.head()")) == ABSTAIN
    assert one_line(make_cell("df = load()")) == ABSTAIN
    assert one_line(make_cell("a\nb")) == ABSTAIN
    # Import nodes over all nodes, counted as CORAL counts: "import os" is Module, Import,
    # alias (1 of 3); "import numpy as np" adds the "as" name (1 of 4, not more than 30%).
    assert imports(make_cell("import os")) == Stage.IMPORT
    assert imports(make_cell("import os\nimport sys")) == Stage.IMPORT
    assert imports(make_cell("import numpy as np")) == ABSTAIN
    assert imports(make_cell("import os\nx = 1")) == ABSTAIN  # 1 of 6
    assert imports(make_cell("%matplotlib inline\nimport os")) == ABSTAIN  # the magic is a call: 1 of 10
    assert imports(make_cell("import os\nprint os")) == imports(make_cell("import os\nprint(os)")) == ABSTAIN
    assert imports(make_cell("import (")) == one_line(make_cell("df(")) == ABSTAIN  # Python cannot parse it


def test_paper_ast_counts_follow_corals_node_lists():
    """Node counts as in CORAL's py150-style node lists (its train.txt)."""
    assert python_ast_counts("import pandas as pd").nodes == 4  # Module Import alias identifier
    assert python_ast_counts("df.x[0] = f(a)").nodes == 11  # Assign SubscriptStore AttributeLoad attr Index ...
    assert python_ast_counts("print x").nodes == python_ast_counts("print(x)").nodes - 2 == 3  # Module Print NameLoad
    counts = python_ast_counts("a + b")
    assert (counts.nodes, counts.imports, counts.bare_expression) == (5, 0, False)  # Module Expr BinOpAdd a b
    assert python_ast_counts("df").bare_expression


@pytest.mark.parametrize(
    ("markdown", "model", "evaluate"),
    [
        ("Random Forest", Stage.MODEL, ABSTAIN),
        ("## Logistic regression", Stage.MODEL, ABSTAIN),
        ("Try logistic regression now", ABSTAIN, ABSTAIN),  # four words: too long
        ("cross validation", ABSTAIN, Stage.EVALUATE),
        ("forest", ABSTAIN, ABSTAIN),
        ("", ABSTAIN, ABSTAIN),
    ],
)
def test_paper_markdown_rules_need_short_markdown(make_cell, markdown, model, evaluate):
    lfs = load_lfs("paper")
    cell = make_cell(markdown_above=markdown)
    assert lf_named(lfs, "paper_markdown_model")(cell) == model
    assert lf_named(lfs, "paper_markdown_evaluate")(cell) == evaluate


def test_user_seed_file_with_globs_calls_and_keywords(make_cell, fixtures_dir):
    lfs = load_lfs(str(fixtures_dir / "labeling" / "seeds.yaml"))
    assert [lf.name for lf in lfs] == ["torch_model", "fit_calls", "plots_markdown"]
    torch_model, fit_calls, plots = lfs
    assert torch_model(make_cell(apis=["torch.nn.Linear"])) == Stage.MODEL
    assert torch_model(make_cell(apis=["torch.optim.Adam"])) == ABSTAIN
    assert fit_calls(make_cell(called_names=["model.fit"])) == Stage.MODEL
    assert fit_calls(make_cell(called_names=["model.fit_transform"])) == ABSTAIN
    # `unless`: the rule abstains when the cell also calls one of these
    assert fit_calls(make_cell(called_names=["model.fit", "plt.plot"])) == ABSTAIN
    assert fit_calls(make_cell(called_names=["model.fit"], apis=["sklearn.metrics.f1_score"])) == ABSTAIN
    assert plots(make_cell(markdown_above="A Histogram  of ages")) == Stage.EXPLORE
    assert plots(make_cell(markdown_above="plotting")) == ABSTAIN  # whole words only


def test_lf_descriptions_come_from_seed_files_or_docstrings(fixtures_dir):
    torch_model, fit_calls, plots = load_lfs(str(fixtures_dir / "labeling" / "seeds.yaml"))
    assert describe_lf(torch_model) == "Builds a PyTorch network."
    assert describe_lf(fit_calls) == "MODEL if the cell calls one of 1 names"
    assert describe_lf(plots) == "EXPLORE if the cell has markdown above with one of 2 keywords"
    one_line = lf_named(load_lfs("paper"), "paper_one_line_explore")
    assert describe_lf(one_line).startswith("A cell that is a bare name or constant")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lfs: []", "non-empty list under 'lfs'"),
        ("lfs:\n  - {name: a, stage: PLOT, apis: [x]}", "unknown stage 'PLOT'"),
        ("lfs:\n  - {name: a, stage: MODEL}", "at least one of"),
        ("lfs:\n  - {name: a, stage: MODEL, api: [x]}", "unknown keys ['api']"),
        ("lfs:\n  - {name: a, stage: MODEL, apis: x}", "'apis' must be a list"),
        ("lfs: [", "cannot read seed file"),
        ("lfs:\n  - {name: a, stage: MODEL, apis: [x], unless: [y]}", "'unless' is a mapping"),
        ("lfs:\n  - {name: a, stage: MODEL, apis: [x], unless: {calls: y}}", "'unless.calls' must be a list"),
        ("lfs:\n  - {name: a, stage: MODEL, apis: [x], description: [y]}", "'description' must be a string"),
    ],
)
def test_bad_seed_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SeedFileError) as error:
        load_lfs(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_python_lf_file_with_resources_and_preprocessors(make_cell, fixtures_dir):
    lfs = load_lfs(str(fixtures_dir / "labeling" / "my_lfs.py"))
    assert [lf.name for lf in lfs] == ["mentions_train_test_split", "uses_plotting_alias"]
    split, plotting = lfs
    assert split(make_cell("X = Train_Test_Split(df)")) == Stage.WRANGLE
    assert plotting(make_cell(called_names=["plt.plot"])) == Stage.EXPLORE
    assert plotting(make_cell(called_names=["np.mean"])) == ABSTAIN


def test_module_name_and_lfs_list(tmp_path, monkeypatch, make_cell):
    (tmp_path / "team_lfs.py").write_text(
        "from snorkel.labeling import labeling_function\n"
        "@labeling_function()\ndef kept(x):\n    return 3\n"
        "@labeling_function()\ndef left_out(x):\n    return 4\n"
        "LFS = [kept]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    lfs = load_lfs("team_lfs")
    assert [lf.name for lf in lfs] == ["kept"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_lfs.py", "defines no labeling functions"),
        ("broken_lfs.py", "failed to import: ModuleNotFoundError"),
        ("missing.py", "not found"),
    ],
)
def test_unusable_lf_files_are_clear_errors(fixtures_dir, name, message):
    path = fixtures_dir / "labeling" / name
    with pytest.raises(LFLoadError) as error:
        load_lfs(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_unknown_name_lists_what_is_accepted():
    with pytest.raises(LFLoadError, match="not a built-in LF set \\(paper, extended\\)"):
        load_lfs("no_such_lf_set_anywhere")


def test_combining_sets_keeps_order_and_rejects_repeated_names(fixtures_dir):
    user = str(fixtures_dir / "labeling" / "my_lfs.py")
    lfs = load_lf_sets(["paper", user])
    assert [lf.name for lf in lfs][-2:] == ["mentions_train_test_split", "uses_plotting_alias"]
    assert len(lfs) == len(load_lfs("paper")) + 2
    with pytest.raises(LFLoadError, match="repeated: mentions_train_test_split, uses_plotting_alias"):
        load_lf_sets([user, user])
