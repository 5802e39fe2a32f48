from __future__ import annotations

import re

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from coral.predictions import Prediction
from coral.problems import ProblemLog
from coral.stages import STAGE_NAMES
from coral.studies import citations
from coral.studies.citations import link_papers, paper_table, read_papers
from coral.studies.papers import find_repos

from .simulate import negative_binomial


@pytest.fixture()
def studies_dir(fixtures_dir):
    return fixtures_dir / "studies"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see https://github.com/Owner/Repo.", {"owner/repo"}),
        ("http://www.github.com/owner/repo.git, and more", {"owner/repo"}),
        ("(github.com/owner/my.repo-2/tree/master/src)", {"owner/my.repo-2"}),
        ("GitHub. com/ owner/repo", {"owner/repo"}),
        ("https://github.com/a/b and https://github.com/A/B/issues/3 and github.com/c/d", {"a/b", "c/d"}),
        ("https://github.com/features/actions or https://github.com/orgs/x", set()),
        ("owner.github.io/repo and gitlab.com/owner/repo", set()),
    ],
)
def test_repository_references_are_found_and_normalised(text, expected):
    assert find_repos(text) == expected


def test_both_corpus_layouts_are_read_and_split_records_merged(studies_dir):
    problems = ProblemLog()
    files = [studies_dir / "papers-gorc.jsonl", studies_dir / "s2orc-metadata.jsonl", studies_dir / "s2orc-pdf-parses.jsonl.gz"]
    papers = read_papers(files, problems, scheduler="sync").set_index("paper_id")
    assert sorted(papers.index) == ["p1", "p2", "s1", "s2"]  # p3 references no repository
    assert papers.loc["p1", "repos"] == ["alice/proj"] and papers.loc["p1", "citations"] == 3
    assert papers.loc["p2", "repos"] == ["bob/other", "carol/tool"] and papers.loc["p2", "citations"] == 10
    s1 = papers.loc["s1"]
    assert (s1["year"], s1["domain"], s1["citations"], s1["repos"]) == (2020, "Physics", 1, ["alice/proj"])
    assert pd.isna(papers.loc["s2", "year"]) and papers.loc["s2", "repos"] == ["dave/nothing_here"]
    bad = {p.origin.rsplit("/", 1)[-1]: p.reason for p in problems}
    assert bad == {"papers-gorc.jsonl:4": "malformed-paper", "papers-gorc.jsonl:5": "malformed-paper"}
    everything = read_papers(files, scheduler="sync")
    assert len(everything) == 4
    assert len(read_papers(files, scheduler="sync", all_papers=True)) == 5


def test_a_missing_paper_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_papers([tmp_path / "nope.jsonl"])


def test_papers_are_linked_to_the_notebooks_of_their_repositories(studies_dir):
    papers = read_papers([studies_dir / "papers-gorc.jsonl"], scheduler="sync")
    predictions = studies_dir / "predictions.jsonl"
    linked = link_papers(papers, predictions)
    assert linked.groupby("paper_id")["notebook_id"].nunique().to_dict() == {"p1": 2, "p2": 1}
    table = paper_table(papers, predictions).set_index("paper_id")
    p1 = table.loc["p1"]
    assert p1["has_notebook"] == 1 and p1["notebooks"] == 2
    assert p1["frac_lines_EXPLORE"] == pytest.approx(4 / 17) and p1["transition_rate"] == pytest.approx(4 / 6)
    assert table.loc["p2", "has_notebook"] == 1 and np.isnan(table.loc["p2", "entropy_lines"])  # bob's cells all abstain


def test_run_on_the_fixture_reports_what_it_could_not_fit(studies_dir, tmp_path):
    output = citations.run(
        studies_dir / "predictions.jsonl",
        [studies_dir / "papers-gorc.jsonl"],
        tmp_path,
        citations=studies_dir / "citations.csv",
        metadata=studies_dir / "notebooks.csv",
        scheduler="sync",
    )
    papers = output.tables["papers"].set_index("paper_id")
    assert papers.loc["p1", "citations"] == 7  # from the citation table, not the corpus
    links = output.tables["paper_links"]
    assert links.loc[links["repo"] == "carol/tool", "repo_has_notebooks"].item()  # repo from the metadata table
    reasons = output.problems.by_reason()
    assert reasons["too-few-papers"] == 3 and reasons["malformed-paper"] == 2
    assert not (tmp_path / "regression_coefficients.csv").exists()
    assert (tmp_path / "papers.md").exists() and (tmp_path / "problems.jsonl").exists()


def test_the_whole_pipeline_recovers_a_simulated_entropy_effect(tmp_path):
    """Papers reference repositories whose notebooks have varied stage mixes; citations
    depend on the z-scored entropy of each paper's notebooks (plus year and domain)."""
    rng = np.random.default_rng(7)
    n_with, n_without = 500, 150
    predictions, papers, entropies = [], [], []
    for i in range(n_with):
        mix = rng.dirichlet(np.full(len(STAGE_NAMES), 0.6))
        lines = rng.multinomial(40, mix)
        notebook = f"gh:sim/repo{i}:nb.ipynb"
        for j, stage in enumerate(np.repeat(np.arange(len(STAGE_NAMES)), lines)):
            predictions.append(Prediction(f"{notebook}#{j}", STAGE_NAMES[stage], {}, notebook, j, 1, []))
        entropies.append(entropy(lines))
    z = (np.array(entropies) - np.mean(entropies)) / np.std(entropies, ddof=1)
    year = rng.choice([2017, 2018, 2019], n_with + n_without)
    domain = rng.choice(["Biology", "Computer Science"], n_with + n_without)
    eta = 1.2 + 0.4 * (domain == "Computer Science") + 0.2 * (year == 2019)
    eta[:n_with] += 0.35 * z + 0.3
    counts = negative_binomial(rng, np.exp(eta), 0.5)
    for i in range(n_with + n_without):
        text = f"Code: https://github.com/sim/repo{i}" if i < n_with else f"Code: https://github.com/sim/plain{i}"
        papers.append({"paper_id": f"P{i}", "metadata": {"year": int(year[i]), "mag_field_of_study": [str(domain[i])], "citation_count": int(counts[i])},
                       "grobid_parse": {"body_text": [{"text": text}], "bib_entries": {}}})
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in papers))

    output = citations.run(predictions, [corpus], tmp_path / "out", scheduler="sync")
    coefficients = output.tables["regression_coefficients"].set_index(["model", "term"])
    r1 = coefficients.loc[("R1 entropy", "z_entropy")]
    assert r1["ci_low"] <= 0.35 <= r1["ci_high"]
    r3 = coefficients.loc[("R3 has notebook", "has_notebook")]
    assert r3["coef"] > 0 and r3["p"] < 1e-3
    assert {name for name, _ in coefficients.index} == {"R1 entropy", "R3 has notebook", *(f"R2 {s}" for s in STAGE_NAMES)}
    fits = pd.read_csv(tmp_path / "out" / "regression_fit.csv").set_index("model")
    assert fits.loc["R1 entropy", "n"] == n_with and fits.loc["R3 has notebook", "n"] == n_with + n_without
    assert re.search(r"\| R1 entropy +\| z_entropy +\|", (tmp_path / "out" / "regression_coefficients.md").read_text())


def test_a_folder_stands_for_its_json_lines_files(studies_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("not a paper file")
    with pytest.raises(FileNotFoundError, match="no .jsonl"):
        read_papers([tmp_path])
    for name in ("papers-gorc.jsonl", "s2orc-metadata.jsonl", "s2orc-pdf-parses.jsonl.gz"):
        shutil.copyfile(studies_dir / name, tmp_path / name)
    problems = ProblemLog()
    papers = read_papers([tmp_path], problems, scheduler="sync")
    assert sorted(papers["paper_id"]) == ["p1", "p2", "s1", "s2"] and len(problems) == 2


def test_papers_whose_repositories_have_no_notebooks(studies_dir):
    papers = read_papers([studies_dir / "papers-gorc.jsonl"], scheduler="sync")
    elsewhere = [Prediction("gh:x/y:a.ipynb#0", "MODEL", {}, "gh:x/y:a.ipynb", 0, 3, [])]
    table = paper_table(papers, elsewhere)
    assert table["has_notebook"].tolist() == [0, 0] and table["entropy_lines"].isna().all()
