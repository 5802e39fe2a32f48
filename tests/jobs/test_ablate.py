"""coral ablate on the example notebooks: specs, exclusions, resuming, tables."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.cells import read_cells
from coral.corpora.pipeline import parse_corpus
from coral.corpora.readers import example_paths
from coral.jobs.ablate import grid_cells, load_spec, run_ablation, training_pool
from coral.problems import ProblemLog

SPEC = """
corpus: [notebooks]
eval_corpus: [notebooks]
exclude_notebooks: [heldout.txt]
lfs: [extended]
label_model: majority
seeds: [0, 1]
reference: word2vec-code
bootstrap: 100
random_seeds: 5
runs:
  - {name: heuristics-paper, model: heuristics, lfs: [paper], aggregation: priority}
  - {name: word2vec-code, model: word2vec, params: {model__vector_size: 16}}
  - {name: word2vec, model: word2vec, params: {model__vector_size: 16}, sweep: {model__token_source: [ast]}}
tables:
  tokens: [word2vec-code, word2vec]
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for path in example_paths():
        shutil.copy(path, notebooks / path.name)
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "heldout.txt").write_text("# held out\npenguins_exploration.ipynb\n")
    gold = [{"id": f"churn_classification.ipynb#{i}", "stage": stage} for i, stage in [(1, "IMPORT"), (2, "WRANGLE"), (8, "MODEL")]]
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(record) + "\n" for record in gold))
    return tmp_path


def test_spec_expands_sweeps_and_heuristics_run_once(data):
    spec = load_spec(data / "spec.yaml", data)
    assert [run.name for run in spec.runs] == ["heuristics-paper", "word2vec-code", "word2vec@model__token_source=ast"]
    assert spec.tables["tokens"] == ["word2vec-code", "word2vec@model__token_source=ast"]
    assert [(cell.run.name, cell.seed) for cell in grid_cells(spec)][:3] == [
        ("heuristics-paper", 0), ("word2vec-code", 0), ("word2vec-code", 1)]


def test_bad_specs_are_named(data):
    (data / "bad.yaml").write_text(SPEC.replace("tokens: [word2vec-code, word2vec]", "tokens: [nope]"))
    with pytest.raises(ValueError, match="names runs the spec lacks: nope"):
        load_spec(data / "bad.yaml", data)
    with pytest.raises(FileNotFoundError, match="shipped specs: cpu, gpu, paper"):
        load_spec("no-such-spec", data)


def test_shipped_specs_load_with_the_paper_tables(tmp_path):
    gpu = load_spec("gpu", tmp_path)
    assert {"figure3_baselines", "figure3_ablations"} <= set(gpu.tables) and gpu.pool_cells == 40_000
    for name in ("cpu", "paper"):
        spec = load_spec(name, tmp_path)
        assert {"figure3_baselines", "figure3_ablations", "table1_sequence_length", "table2_coverage",
                "table3_training_size"} <= set(spec.tables)
        assert any(path.name == "heldout-notebooks.txt" for path in spec.exclude_notebooks)


def test_training_never_sees_gold_or_heldout_notebooks(data, tmp_path):
    spec = load_spec(data / "spec.yaml", data)
    pool = training_pool(spec, [data / "gold.jsonl"], tmp_path / "cache", ProblemLog())
    notebooks = {cell.notebook_id for cell in pool.cells}
    assert notebooks == {"bike_rentals_forecast.ipynb", "house_prices_regression.ipynb"}
    assert pool.n_excluded > 0


def test_the_pool_is_whole_notebooks_each_read_once(data, tmp_path):
    parsed = tmp_path / "parsed"
    parse_corpus([data / "notebooks"], parsed, workers=1)
    (data / "pool.yaml").write_text(SPEC.replace("corpus: [notebooks]\neval", "corpus: [parsed, notebooks]\ntrain_cells: 10\neval"))
    spec = load_spec(data / "pool.yaml", data)
    spec.corpus[0] = parsed
    pool = training_pool(spec, [data / "gold.jsonl"], tmp_path / "cache", ProblemLog(), workers=2)
    ids = [cell.id for cell in pool.cells]
    assert len(ids) == len(set(ids)) >= 10  # the notebooks both inputs hold: read from the first only
    every = Counter(cell.notebook_id for cell in read_cells([parsed]))
    assert Counter(cell.notebook_id for cell in pool.cells) == {n: every[n] for n in {c.notebook_id for c in pool.cells}}
    assert (tmp_path / "cache" / "train-cells").is_dir()


def test_ablate_runs_resumes_and_writes_the_tables(data, tmp_path):
    out = tmp_path / "out"
    args = ["ablate", str(data / "spec.yaml"), "--data", str(data), "--gold", str(data / "gold.jsonl"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trained 5 grid cells, 0 already done" in result.output
    results = out / "results" / "gold"
    for name in ("all", "tokens"):
        for suffix in ("csv", "md", "tex", "png", "pdf"):
            assert (results / f"{name}.{suffix}").is_file()
    table = pd.read_csv(results / "all.csv").set_index("model")
    assert table.loc["heuristics-paper", "n"] == 3 and "p_holm" in table.columns
    assert "\\toprule" in (results / "tokens.tex").read_text()
    # a killed run loses only the grid cell it was in: that one is redone, the rest skipped
    (out / "grid" / "word2vec-code" / "seed-1" / "result.json").unlink()
    with pytest.raises(ValueError, match="reference run 'word2vec-code' has not finished"):
        run_ablation(load_spec(data / "spec.yaml", data), [data / "gold.jsonl"], out, finished_only=True)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trained 1 grid cells, 4 already done" in result.output
    # --finished-only tabulates what has finished and leaves the unfinished run out
    (out / "grid" / "word2vec@model__token_source=ast" / "seed-0" / "result.json").unlink()
    result = CliRunner().invoke(app, [*args, "--finished-only"])
    assert result.exit_code == 0, result.output
    assert "trained 0 grid cells" in result.output
    assert list(pd.read_csv(results / "tokens.csv")["model"]) == ["word2vec-code"]
