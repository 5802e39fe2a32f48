"""A bad command line is a one-line error that names the option or file, with a non-zero exit,
found before any corpus is read; never a traceback, never a run that "succeeds" on nonsense."""

from __future__ import annotations

import dask
import distributed  # noqa: F401  loads its config defaults before dask.config.set below changes one
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.jobs.predict import DEFAULT_MODEL_DIR


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def assert_one_line_error(result, *words: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.fixture
def notebook(fixtures_dir):
    return fixtures_dir / "labeling" / "notebooks" / "churn.ipynb"


@pytest.mark.parametrize("options, words", [
    (["--param", "epochs=abc"], ["TrainingConfig.epochs must be an integer", "'abc'"]),
    (["--param", "model__d_model=0"], ["d_model must be finite and > 0"]),
    (["--param", "training__lr=-1"], ["TrainingConfig.lr"]),
    (["--param", "graph__masked=maybe"], ["GraphConfig.masked must be true or false"]),
    (["--param", "training__val_fraction=3"], ["val_fraction is a fraction"]),
])
def test_bad_encoder_parameters_are_refused_before_reading(notebook, tmp_path, options, words):
    result = invoke("train", "--corpus", tmp_path / "not-read-yet", "--out", tmp_path / "m", *options)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--d-model", "--max-nodes", "--max-cells"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_sizes_below_one_are_refused(notebook, tmp_path, option, value):
    result = invoke("train", "--corpus", notebook, "--out", tmp_path / "m", option, value)
    assert_one_line_error(result, option, exit_code=2)
    assert not (tmp_path / "m").exists()


def test_predict_out_a_folder_is_refused(notebook, tmp_path):
    assert_one_line_error(invoke("predict", notebook, "--out", tmp_path), f"{tmp_path}: is a folder")


def test_evaluate_gold_a_folder_and_zero_seeds_are_refused(tmp_path, fixtures_dir):
    predictions = fixtures_dir / "studies" / "predictions.jsonl"
    assert_one_line_error(invoke("evaluate", predictions, "--gold", tmp_path), str(tmp_path))
    assert_one_line_error(invoke("evaluate", predictions, "--gold", predictions, "--seeds", "0"), "--seeds", exit_code=2)


def test_a_truncated_weights_file_names_the_file(notebook, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("encoder.json", "vocab.json"):
        (model / name).write_bytes((DEFAULT_MODEL_DIR / name).read_bytes())
    (model / "weights.pt").write_bytes((DEFAULT_MODEL_DIR / "weights.pt").read_bytes()[:1000])
    result = invoke("predict", notebook, "--model", model, "--out", tmp_path / "p.jsonl", "--device", "cpu")
    assert_one_line_error(result, f"{model / 'weights.pt'}: not a readable torch file")


@pytest.mark.parametrize("command", [["corpus", "stats", "IN"], ["corpus", "parse", "IN", "--out", "OUT"],
                                     ["label", "IN", "--out", "OUT"]])
def test_an_unreachable_scheduler_is_a_one_line_error(notebook, tmp_path, command):
    args = [{"IN": notebook, "OUT": tmp_path / "out"}.get(arg, arg) for arg in command]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = invoke(*args, "--scheduler", "tcp://127.0.0.1:9")
    assert_one_line_error(result, "Dask scheduler 'tcp://127.0.0.1:9': cannot connect")


def test_an_unknown_format_names_the_option_and_other_errors_are_what_they_are(notebook, tmp_path, monkeypatch):
    assert_one_line_error(invoke("corpus", "parse", notebook, "--out", tmp_path / "o", "--format", "docx"),
                          "--format", "docx", exit_code=2)
    from coral.cli import corpus

    def fails(*args, **kwargs):
        raise ValueError("something inside the parse went wrong")

    monkeypatch.setattr(corpus, "parse_corpus", fails)
    result = invoke("corpus", "parse", notebook, "--out", tmp_path / "o")
    assert_one_line_error(result, "error: something inside the parse went wrong")
    assert "--format" not in result.output
