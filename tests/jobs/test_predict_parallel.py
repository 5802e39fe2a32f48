"""`coral predict --workers`: parts predicted in parallel give the single-process output, and a
rerun after an interruption predicts only the unfinished parts."""

from __future__ import annotations

import pytest

from coral.jobs import predict as predict_job
from coral.jobs.predict import errors_path, load_stage_model, parts_dir, predict_corpus, predict_corpus_parallel


@pytest.fixture(scope="module")
def corpus(fixtures_dir):
    return [fixtures_dir / "corpora" / "shards" / "part-0000.jsonl", fixtures_dir / "labeling" / "notebooks"]


def test_parallel_output_equals_the_single_process_one(corpus, tmp_path):
    single = predict_corpus(corpus, load_stage_model("heuristics", lf_specs=["extended"], aggregation="majority"),
                            tmp_path / "single.jsonl", progress=False)
    parallel = predict_corpus_parallel(corpus, "heuristics", tmp_path / "parallel.jsonl", lf_specs=["extended"],
                                       aggregation="majority", workers=2, notebooks_per_unit=2, progress=False)
    assert (tmp_path / "parallel.jsonl").read_text() == (tmp_path / "single.jsonl").read_text()
    assert (parallel.n_cells, parallel.n_covered) == (single.n_cells, single.n_covered) and single.n_cells > 5
    assert sorted(errors_path(tmp_path / "parallel.jsonl").read_text().splitlines()) == sorted(
        errors_path(tmp_path / "single.jsonl").read_text().splitlines())
    assert not parts_dir(tmp_path / "parallel.jsonl").exists()


def test_a_rerun_predicts_only_the_unfinished_parts(corpus, tmp_path, monkeypatch):
    expected = tmp_path / "expected.jsonl"
    predict_corpus_parallel(corpus, "default", expected, device="cpu", workers=1, notebooks_per_unit=2, progress=False)
    out = tmp_path / "preds.jsonl"
    predicted = []
    real_part = predict_job.predict_part

    def crashing_part(job, **arguments):
        if len(predicted) == 2:
            raise MemoryError("killed")
        predicted.append(job[0])
        real_part(job, **arguments)

    monkeypatch.setattr(predict_job, "predict_part", crashing_part)
    with pytest.raises(MemoryError, match="killed"):  # in this process (workers=1) the error itself
        predict_corpus_parallel(corpus, "default", out, device="cpu", workers=1, notebooks_per_unit=2, progress=False)
    assert not out.exists()
    assert sorted(p.name for p in parts_dir(out).glob("part-?????.jsonl")) == ["part-00000.jsonl", "part-00001.jsonl"]
    predicted.clear()
    monkeypatch.setattr(predict_job, "predict_part", lambda job, **arguments: (predicted.append(job[0]),
                                                                              real_part(job, **arguments)))
    run = predict_corpus_parallel(corpus, "default", out, device="cpu", workers=1, notebooks_per_unit=2, progress=False)
    assert predicted == [2, 3]
    assert out.read_text() == expected.read_text() and run.n_cells == len(expected.read_text().splitlines())


def test_parts_of_another_run_are_not_mixed_in(corpus, tmp_path):
    out = tmp_path / "preds.jsonl"
    parts_dir(out).mkdir()
    (parts_dir(out) / "plan.json").write_text('{"model": "other"}')
    (parts_dir(out) / "part-00000.jsonl").write_text('{"id": "another run#0", "stage": null}\n')
    run = predict_corpus_parallel(corpus, "heuristics", out, workers=1, progress=False)
    assert "another run" not in out.read_text() and run.n_cells == len(out.read_text().splitlines())
    with pytest.raises(ValueError, match="whole input"):
        predict_corpus_parallel(corpus, "heuristics", out, aggregation="labelmodel", workers=1, progress=False)
