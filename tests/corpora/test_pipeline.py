"""The corpus pipeline: Parquet schema, work units, resumable parse runs, statistics."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from coral.corpora import cells as cells_module
from coral.corpora.cells import read_cells
from coral.corpora.parquet import (
    CELL_COLUMNS,
    GRAPH_COLUMNS,
    cells_to_table,
    parsed_parts,
    read_parsed_cells,
    table_to_cells,
)
from coral.corpora.pipeline import corpus_stats, parse_corpus
from coral.corpora.readers import read_notebooks
from coral.corpora.records import ASTGraph, ParsedCell
from coral.corpora.stats import CorpusStats
from coral.corpora.units import plan_work_units
from coral.problems import ProblemLog


@pytest.fixture()
def corpus(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture corpora (tests below modify files)."""
    return Path(shutil.copytree(fixtures_dir / "corpora", tmp_path / "corpus"))


def a_parsed_cell(**changes) -> ParsedCell:
    cell = ParsedCell(
        id="nb#3",
        notebook_id="nb",
        index=3,
        position=0.5,
        source="df.head()",
        markdown_above="## Look",
        execution_count=None,
        nbgrader="solution",
        lines=1,
        statements=1,
        imports=0,
        imported_modules=[],
        names_bound=["x"],
        single_expression=True,
        called_names=["df.head"],
        apis=["pandas.DataFrame.head"],
        magics=["%time"],
        syntax_errors=0,
        graph=ASTGraph(types=["module", "call", "identifier"], values=[None, None, "df"], parents=[-1, 0, 1]),
    )
    return dataclasses.replace(cell, **changes)


def test_schema_covers_every_parsed_cell_field():
    fields = {field.name for field in dataclasses.fields(ParsedCell)}
    assert set(CELL_COLUMNS) | {"graph"} == fields
    assert set(GRAPH_COLUMNS.values()) == {field.name for field in dataclasses.fields(ASTGraph)}


def test_parsed_cells_round_trip_through_arrow():
    empty = a_parsed_cell(id="nb#4", execution_count=7, nbgrader=None, apis=[], graph=ASTGraph([], [], []))
    cells = [a_parsed_cell(), empty]
    table = cells_to_table(cells)
    assert table.num_rows == 2 and table.schema.metadata[b"coral.record"] == b"ParsedCell"
    assert list(table_to_cells(table)) == cells


def test_read_cells_yields_the_code_cells_of_what_is_read(corpus):
    problems = ProblemLog()
    cells = list(read_cells(corpus / "notebooks", problems=problems))
    notebooks = read_notebooks(corpus / "notebooks", problems=ProblemLog())
    expected = [cell.id for notebook in notebooks for cell in notebook.code_cells]
    assert [cell.id for cell in cells] == expected
    assert {problem.reason for problem in problems} == {"malformed-json", "non-python-kernel"}
    load = next(cell for cell in cells if cell.id == "analysis.ipynb#2")
    assert "pandas.read_csv" in load.apis and load.markdown_above.startswith("# Iris")


def test_work_units_cut_shards_into_ranges_and_group_files(corpus):
    units = plan_work_units([corpus / "shards", corpus / "notebooks"], notebooks_per_unit=2)
    slices = [[(source.path.name, start, stop) for source, start, stop in unit.slices] for unit in units]
    assert slices[:3] == [[("part-0000.jsonl", 0, 2)], [("part-0000.jsonl", 2, 4)], [("part-0000.jsonl", 4, None)]]
    assert [len(group) for group in slices[3:]] == [2, 2, 2]  # six .ipynb files, two per unit
    assert [unit.name for unit in plan_work_units([corpus / "shards", corpus / "notebooks"], notebooks_per_unit=2)] == [
        unit.name for unit in units
    ]  # names are stable...
    shard = corpus / "shards" / "part-0000.jsonl"
    shard.write_text(shard.read_text() + "\n")
    renamed = [unit.name for unit in plan_work_units([corpus / "shards"], notebooks_per_unit=2)]
    assert not set(renamed) & {unit.name for unit in units}  # ...until the input changes


def test_parse_run_writes_parts_errors_and_summary_and_reads_back(corpus, tmp_path):
    out = tmp_path / "parsed"
    summary = parse_corpus([corpus], out, workers=1, notebooks_per_unit=2)
    problems = ProblemLog()
    expected = list(read_cells([corpus], problems=problems))
    assert list(read_parsed_cells(out)) == expected  # same cells, same order
    errors = ProblemLog.read_jsonl(out / "_errors.jsonl")
    assert sorted(map(repr, errors)) == sorted(map(repr, problems))  # every skipped item accounted for
    written = json.loads((out / "_summary.json").read_text())
    assert written["parsed_cells"] == len(expected) == summary.stats.parsed_cells
    assert written["notebooks_skipped"] == len(errors) == summary.problems
    assert written["units"] == summary.units == len(parsed_parts(out))
    assert not list(out.glob(".*tmp*"))


def test_a_rerun_skips_finished_parts_and_redoes_unfinished_ones(corpus, tmp_path):
    out = tmp_path / "parsed"
    first = parse_corpus([corpus], out, workers=1, notebooks_per_unit=2)
    errors = (out / "_errors.jsonl").read_text()
    again = parse_corpus([corpus], out, workers=1, notebooks_per_unit=2)
    assert again.units_reused == again.units == first.units
    assert (out / "_errors.jsonl").read_text() == errors

    # A killed run: one part never renamed into place (its sidecar was), a temporary left over.
    victim = parsed_parts(out)[1]
    victim.rename(out / f".{victim.name}.tmp-999")
    with pytest.raises(FileNotFoundError, match="did not finish"):
        next(read_parsed_cells(out))
    resumed = parse_corpus([corpus], out, workers=1, notebooks_per_unit=2)
    assert resumed.units_reused == resumed.units - 1
    assert (out / "_errors.jsonl").read_text() == errors
    assert len(list(read_parsed_cells(out))) == first.stats.parsed_cells


def test_a_notebook_the_parser_chokes_on_is_logged_and_the_run_goes_on(corpus, tmp_path, monkeypatch):
    real_parse = cells_module.parse_notebook

    def fragile_parse(notebook, problems=None):
        if notebook.id == "analysis.ipynb":
            raise RuntimeError("parser bug")
        return real_parse(notebook, problems)

    monkeypatch.setattr(cells_module, "parse_notebook", fragile_parse)
    summary = parse_corpus([corpus / "notebooks"], tmp_path / "parsed", workers=1)
    failures = [p for p in ProblemLog.read_jsonl(tmp_path / "parsed" / "_errors.jsonl") if p.reason == "parse-failed"]
    assert [(p.item, "parser bug" in p.detail) for p in failures] == [("analysis.ipynb", True)]
    assert summary.stats.parsed_cells == 3 + 2  # the assignment's code cells and the v3 notebook's
    assert all(not cell.id.startswith("analysis.ipynb") for cell in read_parsed_cells(tmp_path / "parsed"))


def test_dask_local_cluster_and_a_scheduler_address_give_the_same_cells(corpus, tmp_path):
    from distributed import LocalCluster

    parse_corpus([corpus], tmp_path / "one", workers=1, notebooks_per_unit=3)
    summary = parse_corpus([corpus], tmp_path / "dask", workers=2, notebooks_per_unit=3)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        parse_corpus([corpus], tmp_path / "remote", scheduler=cluster.scheduler_address, notebooks_per_unit=3)
    assert summary.units_reused == 0
    expected = list(read_parsed_cells(tmp_path / "one"))
    errors = (tmp_path / "one" / "_errors.jsonl").read_text()
    for run in ("dask", "remote"):
        assert list(read_parsed_cells(tmp_path / run)) == expected
        assert (tmp_path / run / "_errors.jsonl").read_text() == errors


def test_corpus_stats_counts_cells_problems_and_apis(corpus):
    problems = ProblemLog()
    stats = corpus_stats([corpus / "notebooks", corpus / "shards"], problems=problems)
    assert stats.notebooks == 6  # four from the folder, two from the shard
    # code cells: analysis 5, assignment 3, v3 2 (folder); alice 2, bob (v3) 2 (shard)
    assert stats.cells["code"] == stats.parsed_cells == 14
    assert stats.notebook_problems == {"malformed-json": 2, "non-python-kernel": 2, "missing-field": 1}
    assert stats.apis["pandas.read_csv"] == 2
    merged = CorpusStats.from_dict(stats.to_dict(top_apis=None))
    merged.merge(stats)
    assert merged.notebooks == 12 and merged.apis["pandas.read_csv"] == 4


def test_corpus_stats_on_dask_match_the_streamed_ones(corpus):
    streamed_problems, parallel_problems = ProblemLog(), ProblemLog()
    streamed = corpus_stats([corpus], problems=streamed_problems)
    parallel = corpus_stats([corpus], problems=parallel_problems, workers=2, notebooks_per_unit=2)
    assert parallel.to_dict(top_apis=None) == streamed.to_dict(top_apis=None)
    assert list(parallel_problems) == list(streamed_problems)  # in input order, like the streamed run


def test_corpus_stats_of_a_parsed_directory_are_its_parse_runs(corpus, tmp_path):
    inputs = [corpus / "notebooks", corpus / "shards"]
    streamed_problems, parsed_problems = ProblemLog(), ProblemLog()
    streamed = corpus_stats(inputs, problems=streamed_problems)
    parse_corpus(inputs, tmp_path / "parsed", workers=1, notebooks_per_unit=2)
    parsed = corpus_stats([tmp_path / "parsed"], problems=parsed_problems)
    assert parsed.to_dict(top_apis=None) == streamed.to_dict(top_apis=None) and parsed.apis
    assert sorted(map(repr, parsed_problems)) == sorted(map(repr, streamed_problems))
    both = corpus_stats([tmp_path / "parsed", corpus / "notebooks"])  # a parsed directory beside a corpus
    assert both.notebooks == streamed.notebooks + 4


def test_corpus_stats_refuse_an_unfinished_parse(corpus, tmp_path):
    parse_corpus([corpus / "shards"], tmp_path / "parsed", workers=1)
    (tmp_path / "parsed" / "_summary.json").unlink()
    with pytest.raises(FileNotFoundError, match="did not finish"):
        corpus_stats([tmp_path / "parsed"])
