"""The notebook HMM: transitions counted from weak labels, uncovered cells read in context."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.cells import read_cells
from coral.jobs.lfs_first import LFS_DIR, LFsFirstModel
from coral.jobs.notebook_hmm import HMM_FILE, NotebookHMM, forward_backward, has_neighbours, notebook_runs
from coral.jobs.predict import load_stage_model, predict_cells
from coral.labeling.model import HeuristicStageModel
from coral.predictions import read_predictions
from coral.stages import STAGE_NAMES

IMPORT, WRANGLE, EXPLORE, MODEL, EVALUATE = np.eye(5)
NONE = np.zeros(5)


def notebooks(make_cell, stages_by_notebook):
    cells, rows = [], []
    for n, stages in enumerate(stages_by_notebook):
        for i, stage in enumerate(stages):
            cells.append(make_cell(id=f"nb{n}#{i}", notebook_id=f"nb{n}", index=i))
            rows.append(stage)
    return cells, np.array(rows)


def test_transitions_are_counted_within_notebooks_between_covered_cells(make_cell):
    cells, y = notebooks(make_cell, [[IMPORT, WRANGLE, NONE, MODEL], [EVALUATE, MODEL]])
    hmm = NotebookHMM(pseudocount=0.0).fit(cells, y)
    T = np.array(hmm.transitions_)
    assert hmm.n_pairs_ == 2  # IMPORT->WRANGLE, EVALUATE->MODEL; not across the gap, not across notebooks
    assert T[0, 1] == 1.0 and T[4, 3] == 1.0
    assert np.allclose(hmm.prior_, [0.2, 0.2, 0.0, 0.4, 0.2])


def test_an_uncovered_cell_takes_its_stage_from_its_neighbours(make_cell):
    # a notebook world where stages come in long runs
    runs = [[WRANGLE] * 6 + [MODEL] * 6 for _ in range(20)]
    train_cells, y = notebooks(make_cell, runs)
    hmm = NotebookHMM().fit(train_cells, y)
    cells, _ = notebooks(make_cell, [[WRANGLE, WRANGLE, NONE, WRANGLE, MODEL, MODEL, NONE, MODEL]])
    labelled = np.array([1, 1, 0, 1, 1, 1, 0, 1], dtype=bool)
    proba = np.array([WRANGLE, WRANGLE, EVALUATE * 0.6 + EXPLORE * 0.4, WRANGLE, MODEL, MODEL, EXPLORE, MODEL])
    smoothed = hmm.smooth(cells, proba, labelled)
    assert np.array_equal(smoothed[labelled], proba[labelled])  # the LFs' labels are kept
    assert [STAGE_NAMES[i] for i in smoothed[~labelled].argmax(axis=1)] == ["WRANGLE", "MODEL"]
    assert np.allclose(smoothed.sum(axis=1), 1.0)
    # a cell alone in its notebook (no neighbours) keeps the encoder's reading, not one pulled to the prior
    alone, _ = notebooks(make_cell, [[NONE], [NONE, WRANGLE]])
    rows = np.array([EXPLORE * 0.6 + MODEL * 0.4, EXPLORE * 0.6 + MODEL * 0.4, WRANGLE])
    smoothed = hmm.smooth(alone, rows, np.array([False, False, True]))
    assert np.array_equal(smoothed[0], rows[0])
    assert not np.allclose(smoothed[1], rows[1])  # the same reading with a neighbour is read in context


def test_only_cells_with_a_neighbour_are_read_in_context(make_cell):
    cells, _ = notebooks(make_cell, [[NONE], [NONE, NONE], [NONE]])
    assert has_neighbours(cells).tolist() == [False, True, True, False]


def test_forward_backward_matches_brute_force():
    rng = np.random.default_rng(0)
    T = rng.dirichlet(np.ones(3), size=3)
    start = rng.dirichlet(np.ones(3))
    E = rng.random((4, 3))
    paths = np.array(np.meshgrid(*[range(3)] * 4, indexing="ij")).reshape(4, -1).T
    weight = np.array([start[p[0]] * np.prod([T[p[k - 1], p[k]] for k in range(1, 4)]) * np.prod(E[range(4), p])
                       for p in paths])
    brute = np.array([[weight[paths[:, k] == s].sum() for s in range(3)] for k in range(4)]) / weight.sum()
    assert np.allclose(forward_backward(E, T, start), brute)
    # long notebooks: scaled, no underflow
    assert np.isfinite(forward_backward(np.full((5000, 3), 1e-30), T, start)).all()


def test_notebook_runs_are_consecutive_cells_of_one_notebook(make_cell):
    cells = [make_cell(id=str(i), notebook_id=n) for i, n in enumerate("aabba")]
    assert [(s.start, s.stop) for s in notebook_runs(cells)] == [(0, 2), (2, 4), (4, 5)]


def test_the_hmm_file_is_checked_data(tmp_path, make_cell):
    cells, y = notebooks(make_cell, [[IMPORT, WRANGLE, EXPLORE]])
    NotebookHMM().fit(cells, y).save(tmp_path)
    assert NotebookHMM.load(tmp_path).transitions_ == NotebookHMM().fit(cells, y).transitions_
    (tmp_path / HMM_FILE).write_text(json.dumps({"transitions_": [[1.0]], "prior_": [1.0]}))
    with pytest.raises(ValueError, match="5 x 5"):
        NotebookHMM.load(tmp_path)
    (tmp_path / HMM_FILE).write_text('{"__class__": "os.system"}')
    with pytest.raises(ValueError, match="not a notebook HMM file"):
        NotebookHMM.load(tmp_path)
    with pytest.raises(ValueError, match="no cell has a weak label"):
        NotebookHMM().fit(cells, np.zeros((3, 5)))


def test_train_and_fit_hmm_give_a_model_that_reads_notebooks(tmp_path, fixtures_dir):
    corpus = fixtures_dir / "corpora"
    out = tmp_path / "model"
    w2v = ["--param", "tokens__min_token_count=1", "--param", "model__vector_size=16"]
    result = CliRunner().invoke(app, ["train", "--encoder", "word2vec", str(corpus), "--lfs", "extended", "--lfs-first",
                                      "--notebook-hmm", "--aggregate", "majority", "--max-cells", "20", *w2v,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "train.json").read_text())["notebook_hmm"] and (out / HMM_FILE).is_file()
    model = load_stage_model(str(out))
    assert isinstance(model, LFsFirstModel) and model.hmm is not None
    assert load_stage_model(str(out), notebook_hmm=False).hmm is None
    every = list(read_cells([corpus]))
    assert json.loads((out / "train.json").read_text())["n_cells"] < len(every)  # the encoder saw a sample ...
    # ... the HMM every cell, as fit-hmm counts them: the same file
    saved = json.loads((out / HMM_FILE).read_text())
    (out / HMM_FILE).unlink()
    result = CliRunner().invoke(app, ["lfs", "fit-hmm", str(corpus), "--model", str(out)])
    assert result.exit_code == 0, result.output
    assert np.allclose(json.loads((out / HMM_FILE).read_text())["transitions_"], saved["transitions_"])
    # predict reads in context by default; --cell-only does not, and the manifests say which;
    # each prediction says whether the LFs labelled its cell or the model did
    lfs_stages = {p.id: p.stage for p in predict_cells(HeuristicStageModel.load(out / LFS_DIR), every)}
    for flag, expected, model_part in (("--notebook-hmm", True, "context"), ("--cell-only", False, "encoder")):
        predictions = tmp_path / f"{flag}.jsonl"
        result = CliRunner().invoke(app, ["predict", str(corpus), "--model", str(out), flag, "--out", str(predictions)])
        assert result.exit_code == 0, result.output
        manifest = json.loads(predictions.with_name(f"{predictions.stem}.manifest.json").read_text())
        assert manifest["model"]["notebook_hmm"] is expected
        deciders = {p.id: p.decided_by for p in read_predictions(predictions)}
        assert set(deciders.values()) == {"lfs", model_part}
        assert all((deciders[i] == "lfs") == (stage is not None) for i, stage in lfs_stages.items())


def test_the_hmm_needs_lfs_first(tmp_path, fixtures_dir):
    result = CliRunner().invoke(app, ["train", "--encoder", "word2vec", str(fixtures_dir / "corpora"), "--notebook-hmm",
                                      "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "needs --lfs-first" in result.output
    result = CliRunner().invoke(app, ["lfs", "fit-hmm", str(fixtures_dir / "corpora"), "--model", str(tmp_path)])
    assert result.exit_code != 0 and "not an LFs-first model directory" in result.output
