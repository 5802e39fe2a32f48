"""``coral train`` end to end on a tiny notebook corpus (as notebooks and as a parsed directory),
and loading the result for ``coral predict``."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.cells import read_cells
from coral.corpora.pipeline import parse_corpus
from coral.jobs.predict import load_stage_model
from coral.jobs.train import weak_labels
from coral.labeling.model import HeuristicStageModel
from coral.problems import ProblemLog

CELLS = [
    ("Imports", "import pandas as pd\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression"),
    ("Load the data", "df = pd.read_csv('train.csv')"),
    ("Look at it", "df.describe()"),
    ("Clean", "df = df.dropna()\ndf['age'] = df['age'].fillna(0)"),
    ("Plot", "import matplotlib.pyplot as plt\nplt.hist(df['age'])\nplt.show()"),
    ("Train", "model = LogisticRegression()\nmodel.fit(X_train, y_train)"),
    ("Evaluate", "from sklearn.metrics import accuracy_score\naccuracy_score(y_test, model.predict(X_test))"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    for n in range(6):
        cells = []
        for markdown, code in CELLS:
            cells += [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code.replace("df", f"df{n}"))]
        notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
        nbformat.write(notebook, folder / f"nb{n}.ipynb")
    return folder


@pytest.mark.parametrize("encoder, options", [
    ("word2vec", ["--param", "tokens__min_token_count=1", "--param", "model__vector_size=16"]),
    ("coral", ["--epochs", "2", "--d-model", "32", "--param", "model__d_ff=64", "--param", "n_topics=8",
               "--param", "graph__min_token_count=1", "--batch-size", "8", "--device", "cpu", "--threads", "1"]),
    ("bert", ["--epochs", "2", "--d-model", "16", "--param", "model__d_ff=32", "--param", "model__layers=1",
              "--param", "model__mlm_epochs=1", "--param", "tokens__min_token_count=1", "--batch-size", "8",
              "--device", "cpu", "--threads", "1"]),
])
def test_train_writes_a_model_directory_that_predict_loads(corpus, tmp_path, encoder, options):
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--encoder", encoder, str(corpus), "--lfs", "paper",
                                      "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    assert f"trained {encoder} on 42 cells" in result.output
    run = json.loads((out / "train.json").read_text())
    assert run["n_cells"] == 42 and 0 < run["n_covered"] <= 42 and run["lfs"] == ["paper"]
    model = load_stage_model(str(out))
    cells = list(read_cells([str(corpus)]))
    proba = model.predict_proba(cells)
    assert proba.shape == (42, 5) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    if encoder in ("coral", "bert"):
        assert (out / "checkpoints" / "checkpoint.pt").is_file() and (out / "metrics.csv").is_file()


def test_train_excludes_development_notebooks_and_reports_bad_options(corpus, tmp_path):
    first = next(read_cells([str(corpus)]))
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": first.id, "stage": "IMPORT"}) + "\n")
    out = tmp_path / "model"
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--encoder", "word2vec", str(corpus), "--out", str(out),
                                 "--exclude", str(gold), "--param", "tokens__min_token_count=1"])
    assert result.exit_code == 0, result.output
    assert "on 35 cells" in result.output and "7 excluded" in result.output  # the whole notebook is left out
    cells = list(read_cells([str(corpus)]))
    held_out = tmp_path / "heldout-notebooks.txt"
    held_out.write_text(f"# held out, one id a line\n\n{cells[-1].notebook_id}\n")
    result = runner.invoke(app, ["train", "--encoder", "word2vec", str(corpus), "--out", str(out),
                                 "--exclude", str(gold), "--exclude-notebooks", str(held_out),
                                 "--param", "tokens__min_token_count=1"])
    assert result.exit_code == 0, result.output
    assert "on 28 cells" in result.output and "14 excluded" in result.output
    assert json.loads((out / "train.json").read_text())["excluded_notebooks_from"] == [str(held_out)]
    wrong = runner.invoke(app, ["train", "--encoder", "word2vec", str(corpus), "--out", str(out),
                                "--exclude-notebooks", str(gold)])
    assert wrong.exit_code == 1 and "one notebook id a line" in wrong.output
    bad = runner.invoke(app, ["train", "--encoder", "lda", str(corpus), "--out", str(out), "--param", "heads=2"])
    assert bad.exit_code == 1 and "no parameter(s) heads" in bad.output


def test_train_reads_a_parsed_directory_as_it_reads_the_corpus(corpus, tmp_path):
    parse_corpus([corpus], tmp_path / "parsed", workers=1)
    runs = {}
    for name, source in (("notebooks", corpus), ("parsed", tmp_path / "parsed")):
        result = CliRunner().invoke(app, ["train", "--encoder", "word2vec", str(source), "--out",
                                          str(tmp_path / name), "--param", "tokens__min_token_count=1"])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / name / "train.json").read_text())
    for key in ("n_cells", "n_covered", "weak_label_counts"):
        assert runs["parsed"][key] == runs["notebooks"][key]
    assert runs["parsed"]["n_cells"] == 42


@pytest.mark.parametrize("aggregation", ["priority", "labelmodel"])
def test_weak_labels_are_the_heuristics_model_predictions(corpus, aggregation):
    cells = list(read_cells([corpus]))
    y = weak_labels(cells, ["paper"], aggregation, ProblemLog())
    expected = HeuristicStageModel(lf_specs=("paper",), aggregation=aggregation).predict_proba(cells)
    assert y.shape == (42, 5) and (y.sum(axis=1) > 0).any()
    assert np.allclose(y, expected, atol=1e-6)


def test_train_takes_nested_parameter_names_from_param_and_config(corpus, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("model: {d_model: 16, d_ff: 32, n_topics: 4, layers: 1}\ntraining__batch_size: 8\n")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", str(corpus), "--out", str(out), "--config", str(config),
                                      "--param", "graph__max_nodes=12", "--param", "training__grad_clip=0.5",
                                      "--param", "graph__min_token_count=1", "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    params = json.loads((out / "encoder.json").read_text())["params"]
    assert params["graph"]["max_nodes"] == 12 and params["graph"]["max_markdown_tokens"] == 16
    assert params["model"] == {**params["model"], "d_model": 16, "d_ff": 32, "n_topics": 4, "layers": 1}
    assert params["training"]["grad_clip"] == 0.5 and params["training"]["batch_size"] == 8
    assert params["training"]["epochs"] == 1 and "device" not in params
    bad = CliRunner().invoke(app, ["train", str(corpus), "--out", str(out), "--param", "graph__max_node=3"])
    assert bad.exit_code == 1 and "graph__max_node" in bad.output


def test_predict_with_the_shipped_model_takes_a_device(corpus, tmp_path):
    out = tmp_path / "preds.jsonl"
    result = CliRunner().invoke(app, ["predict", str(corpus), "--model", "default", "--device", "cpu", "--threads", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "42 cells, 42 (100.0%) with a stage" in result.output
    assert load_stage_model("default", device="cpu").encoder.device == "cpu"
    bad = CliRunner().invoke(app, ["predict", str(corpus), "--model", "default", "--device", "gpu7", "--out", str(out)])
    assert bad.exit_code == 1 and "device 'gpu7'" in bad.output


def test_train_reads_juice_cells_as_told(corpus, tmp_path, fixtures_dir):
    juice_file = str(fixtures_dir / "corpora" / "juice_dev.jsonl")
    n_cells = {}
    for choice in ("target", "all"):
        out = tmp_path / choice
        result = CliRunner().invoke(app, ["train", "--encoder", "word2vec", str(corpus), juice_file,
                                          "--juice-cells", choice, "--out", str(out), "--param", "tokens__min_token_count=1"])
        assert result.exit_code == 0, result.output
        n_cells[choice] = json.loads((out / "train.json").read_text())["n_cells"]
    assert n_cells == {"target": 42 + 5, "all": 42 + 8}


def test_lfs_first_model_keeps_the_lfs_label_where_they_vote(corpus, tmp_path):
    """--lfs-first: every cell an LF votes on gets the LFs' label whatever the encoder says,
    the others the encoder's; the directory loads back as such a model."""
    from coral.corpora.parse import parse_code
    from coral.jobs.lfs_first import LFsFirstModel

    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--encoder", "word2vec", str(corpus), "--lfs", "paper", "--lfs-first",
                                      "--aggregate", "majority", "--param", "tokens__min_token_count=1",
                                      "--param", "model__vector_size=16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "train.json").read_text())["lfs_first"]
    model = load_stage_model(str(out))
    assert isinstance(model, LFsFirstModel) and model.lfs.aggregation == "majority"
    cells = [*read_cells([str(corpus)]), parse_code("z = f(w)")]  # the last: no paper LF votes
    lfs = HeuristicStageModel(lf_specs=("paper",), aggregation="majority").predict_proba(cells)
    encoder = model.encoder.predict_proba(cells)
    covered = lfs.sum(axis=1) > 0
    assert 0 < covered.sum() < len(cells)
    proba = model.predict_proba(cells)
    assert np.array_equal(proba[covered], lfs[covered]) and np.allclose(proba[~covered], encoder[~covered])


def test_resume_refuses_another_corpus_or_another_model_shape(corpus, tmp_path):
    tiny = ["--encoder", "coral", "--d-model", "8", "--param", "model__heads=1", "--param", "model__layers=1",
            "--param", "model__d_ff=16", "--param", "model__n_topics=4", "--max-nodes", "16", "--batch-size", "8",
            "--device", "cpu", "--threads", "1"]
    out = tmp_path / "model"
    runner = CliRunner()
    first = runner.invoke(app, ["train", str(corpus), "--out", str(out), "--epochs", "1", *tiny])
    assert first.exit_code == 0, first.output
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for name in ("nb0.ipynb", "nb1.ipynb"):
        (smaller / name).write_bytes((corpus / name).read_bytes())
    other_corpus = runner.invoke(app, ["train", str(smaller), "--out", str(out), "--epochs", "2", "--resume", *tiny])
    assert other_corpus.exit_code == 1
    message = other_corpus.output.strip().splitlines()[-1]
    assert other_corpus.output.count("error:") == 1 and message.startswith("error: --resume:") and "another corpus" in message
    assert "cells: 42 -> 14" in message
    other_shape = runner.invoke(app, ["train", str(corpus), "--out", str(out), "--epochs", "2", "--resume",
                                      *tiny, "--d-model", "16"])
    assert other_shape.exit_code == 1
    message = other_shape.output.strip()
    assert message.count("\n") == 0 and message.startswith("error: --resume:") and "another shape" in message and "d_model: 8 -> 16" in message
    more_epochs = runner.invoke(app, ["train", str(corpus), "--out", str(out), "--epochs", "2", "--resume", *tiny])
    assert more_epochs.exit_code == 0, more_epochs.output
    assert json.loads((out / "training.json").read_text())["epochs_run"] == 2


def test_teacher_labels_only_uncovered_cells_it_is_sure_of():
    from coral.jobs.train import add_teacher_labels

    y = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32)

    class Teacher:
        def predict_proba(self, cells):
            return np.array([[0, 1, 0, 0, 0], [0, 0.95, 0.05, 0, 0], [0.5, 0.5, 0, 0, 0]])

    assert add_teacher_labels(y, [None] * 3, Teacher(), 0.9) == 1
    assert y[0].tolist() == [1, 0, 0, 0, 0]  # an LF's label is kept
    assert np.allclose(y[1], [0, 0.95, 0.05, 0, 0]) and not y[2].any()  # 0.5 is not sure enough
