"""kill -9, then the same command again: parse, label, predict and train finish with the output
an uninterrupted run writes, and leave no temporary or part files behind.

Each test starts the CLI as a subprocess on a small generated corpus, waits (polling the output
folder) until it has written a first part or checkpoint, kills it with SIGKILL, checks that it was
stopped mid-run, reruns it to the end and compares with a run that was never interrupted.
Select them with ``-m killtest``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import torch
from typer.testing import CliRunner

from coral.cli import app

REPO_ROOT = Path(__file__).resolve().parents[1]
SLOW_LFS = '''
import time
from snorkel.labeling import labeling_function


@labeling_function()
def slow_import(x):
    """Votes IMPORT on import cells, slowly: so that a test can kill the run between two parts."""
    time.sleep(0.05)
    return 0 if x.imports else -1
'''
TINY_CORAL = ["--encoder", "coral", "--d-model", "8", "--param", "model__heads=1", "--param", "model__layers=1",
              "--param", "model__d_ff=16", "--param", "model__n_topics=4", "--max-nodes", "16", "--batch-size", "8",
              "--param", "training__patience=100", "--device", "cpu", "--threads", "1"]
CODE = ["import pandas as pd\nimport numpy as np", "df = pd.read_csv('data{n}.csv').dropna()", "df.describe()",
        "plt.hist(df['x{n}'])", "model = LogisticRegression().fit(X, y)", "accuracy_score(y, model.predict(X))"]

pytestmark = pytest.mark.killtest


def make_corpus(folder: Path, notebooks: int, cells: int) -> Path:
    """``notebooks`` notebooks of ``cells`` code cells each, and one that is not JSON (a problem to report)."""
    folder.mkdir(parents=True)
    for n in range(notebooks):
        sources = [CODE[(n + i) % len(CODE)].format(n=n) for i in range(cells)]
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
        nbformat.write(notebook, folder / f"nb{n:03d}.ipynb")
    (folder / "broken.ipynb").write_text("{not json")
    return folder


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("kill") / "corpus", notebooks=16, cells=2)


@pytest.fixture(scope="module")
def slow_lfs(small_corpus) -> Path:
    path = small_corpus.parent / "slow_lfs.py"
    path.write_text(SLOW_LFS)
    return path


def coral(*args: object) -> list[str]:
    return [sys.executable, "-c", "from coral.cli import app; app()", *map(str, args)]


def environment() -> dict[str, str]:
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}


def run_to_end(args: list[str]) -> None:
    finished = subprocess.run(args, env=environment(), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]


def run_here(*args: object) -> None:
    """An uninterrupted run, in this process (one interpreter start less per test)."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output


def kill_once(args: list[str], started: Callable[[], bool], finished: Callable[[], bool]) -> None:
    """Start ``args``, SIGKILL it as soon as ``started()`` holds, and check it had not ``finished()``."""
    process = subprocess.Popen(args, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # a safety net for a hung run, not a measurement
    try:
        while not started():
            if process.poll() is not None:
                pytest.fail(f"the run ended (exit {process.returncode}) before it could be killed: "
                            f"{process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the run wrote no part in 10 minutes")
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()
    assert not finished(), "the kill came too late: the run had finished"


def leftovers(folder: Path) -> list[str]:
    """Temporary files (``.<name>.tmp-<pid>...``) and part folders a run left under ``folder``."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if ".tmp-" in path.name or path.name.endswith(".parts") or path.name == "_parts")


def files(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob(pattern)) if path.is_file()}


def test_parse_killed_and_rerun_writes_the_parts_of_an_uninterrupted_run(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", notebooks=120, cells=4)
    command = ["corpus", "parse", corpus, "--workers", "1", "--chunk-size", "2"]
    run_here(*command, "--out", tmp_path / "expected")
    out = tmp_path / "parsed"
    kill_once(coral(*command, "--out", out), started=lambda: any(out.glob("part-*.parquet")),
              finished=lambda: (out / "_summary.json").exists())
    run_to_end(coral(*command, "--out", out))
    expected = tmp_path / "expected"
    assert files(out, "*part-*") == files(expected, "*part-*") and len(files(out, "part-*")) == 61
    assert (out / "_errors.jsonl").read_bytes() == (expected / "_errors.jsonl").read_bytes() != b""
    timing = ("seconds", "units_reused", "out_dir")
    summary, uninterrupted = (json.loads((folder / "_summary.json").read_text()) for folder in (out, expected))
    assert {k: v for k, v in summary.items() if k not in timing} == {k: v for k, v in uninterrupted.items() if k not in timing}
    assert 0 < summary["units_reused"] < summary["units"]  # the rerun took up the parts the killed run finished
    assert leftovers(out) == []


def test_label_killed_and_rerun_writes_the_matrix_of_an_uninterrupted_run(small_corpus, slow_lfs, tmp_path):
    command = ["label", small_corpus, "--lfs", "paper", "--lfs", slow_lfs, "--chunk-size", "2"]
    run_here(*command, "--out", tmp_path / "expected")
    out = tmp_path / "labels"
    kill_once(coral(*command, "--out", out), started=lambda: any((out / "_parts").glob("part-*.parquet")),
              finished=lambda: (out / "label_matrix.parquet").exists())
    assert any((out / "_parts").glob("part-*.parquet"))  # what the rerun takes up
    run_to_end(coral(*command, "--out", out))
    assert files(out) == files(tmp_path / "expected")  # byte for byte: matrix, sidecar, problems
    assert sorted(files(out)) == ["_label_matrix.json", "_problems.jsonl", "label_matrix.parquet"]
    assert leftovers(out) == []


def test_predict_killed_and_rerun_writes_the_predictions_of_an_uninterrupted_run(small_corpus, slow_lfs, tmp_path):
    command = ["predict", small_corpus, "--model", "heuristics", "--lfs", "paper", "--lfs", slow_lfs, "--chunk-size", "2"]
    expected = tmp_path / "expected" / "predictions.jsonl"
    run_here(*command, "--out", expected)
    out = tmp_path / "run" / "predictions.jsonl"
    parts = out.with_name(out.name + ".parts")
    kill_once(coral(*command, "--out", out), started=lambda: any(parts.glob("part-*.jsonl")),
              finished=lambda: out.exists())
    run_to_end(coral(*command, "--out", out))
    assert out.read_bytes() == expected.read_bytes() and len(out.read_text().splitlines()) == 32
    errors = out.with_name("predictions.errors.jsonl")
    assert errors.read_bytes() == expected.with_name("predictions.errors.jsonl").read_bytes() != b""
    assert sorted(files(out.parent)) == ["predictions.errors.jsonl", "predictions.jsonl", "predictions.manifest.json"]
    assert leftovers(out.parent) == []


def test_train_killed_and_resumed_ends_with_the_model_of_an_uninterrupted_run(small_corpus, tmp_path):
    command = ["train", small_corpus, *TINY_CORAL, "--epochs", "8"]
    expected = tmp_path / "expected"
    run_here(*command, "--out", expected)
    out = tmp_path / "model"
    checkpoint = out / "checkpoints" / "checkpoint.pt"
    kill_once(coral(*command, "--out", out), started=checkpoint.exists, finished=(out / "train.json").exists)
    run_to_end(coral(*command, "--out", out, "--resume"))
    for name in ("encoder.json", "vocab.json", "training.json", "errors.jsonl"):
        assert (out / name).read_bytes() == (expected / name).read_bytes(), name
    weights, uninterrupted = (torch.load(folder / "weights.pt", weights_only=True) for folder in (out, expected))
    assert weights.keys() == uninterrupted.keys()
    assert all(torch.equal(weights[name], uninterrupted[name]) for name in weights)
    untimed = [(row["epoch"], row["train_loss"], row["val_weak_loss"]) for row in csv.DictReader((out / "metrics.csv").open())]
    assert untimed == [(row["epoch"], row["train_loss"], row["val_weak_loss"])
                       for row in csv.DictReader((expected / "metrics.csv").open())]
    assert len(untimed) == 8
    assert leftovers(out) == []
