"""Papers, the GitHub repositories they reference, and what their notebooks look like.

The paper corpus (S2ORC / GORC JSON Lines, read with ``dask.bag``) is described in
:mod:`coral.studies.papers`. A paper's notebooks are those of every repository it
references (by ``repo``, read off ``gh:OWNER/NAME:PATH`` notebook ids or given by a
metadata table), concatenated into one unit as in the CORAL paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import dask.bag as db
import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from coral.problems import FIT_FAILED, MISSING_VALUE, NOT_CONVERGED, NO_CONTRAST, TOO_FEW_PAPERS, ProblemLog, problem_log
from coral.stages import STAGE_NAMES
from coral.studies.frame import PredictionsLike, as_frame, attach_metadata, read_table
from coral.studies.output import StudyOutput
from coral.studies.papers import merge_facts, read_paper_file
from coral.studies.regression import RegressionResult, entropy_model, fraction_models, has_notebook_model
from coral.studies.summary import summarize


def paper_files(paths: Iterable[str | Path]) -> list[str]:
    """The JSON Lines files named, with a folder standing for its ``*.jsonl``/``*.json`` files (compressed or not)."""
    files: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and re.search(r"\.jsonl?(\.gz|\.bz2)?$", p.name))
            if not found:
                raise FileNotFoundError(f"no .jsonl / .json(.gz|.bz2) files in the paper folder {path}")
            files += map(str, found)
        elif path.is_file():
            files.append(str(path))
        else:
            raise FileNotFoundError(f"paper corpus file not found: {path}")
    if not files:
        raise ValueError("no paper files given")
    return files


def read_papers(
    paths: Iterable[str | Path],
    problems: ProblemLog | None = None,
    scheduler: str | None = None,
    all_papers: bool = False,
) -> pd.DataFrame:
    """One row per paper: ``paper_id, title, year, domain, citations, repos`` (a list).

    ``paths`` are JSON Lines files or folders of them (see :func:`paper_files`).

    By default only papers that reference at least one GitHub repository are kept (a first
    pass finds them, so memory holds only those even on a full S2ORC release);
    ``all_papers=True`` keeps every paper. Records of one ``paper_id`` are merged.
    ``scheduler`` is a dask scheduler name (``"threads"``, ``"processes"``, ``"sync"``);
    by default dask's own choice for bags (processes).
    """
    files = paper_files(paths)
    bag = db.from_sequence(files, npartitions=len(files)).map(read_paper_file).flatten()
    records = bag.filter(lambda r: "problem" not in r)
    bad_records = bag.filter(lambda r: "problem" in r)
    if all_papers:
        found, bad = db.compute(records.foldby("paper_id", merge_facts, combine=merge_facts), bad_records, scheduler=scheduler)
    else:  # first pass: which papers cite a repository (and the bad lines); second: merge only those
        citing, bad = db.compute(records.filter(lambda r: bool(r["repos"])).pluck("paper_id").distinct(), bad_records, scheduler=scheduler)
        citing = set(citing)
        found = records.filter(lambda r: r["paper_id"] in citing).foldby("paper_id", merge_facts, combine=merge_facts).compute(scheduler=scheduler)
    problems = problem_log(problems)
    for record in bad:
        problems.add(record["origin"], None, record["problem"], record["detail"])
    columns = ["paper_id", "title", "year", "domain", "citations", "repos"]
    table = pd.DataFrame([facts for _, facts in found], columns=columns)
    table = table.astype({"year": "Int64", "citations": "Int64"})
    return table.sort_values("paper_id", kind="stable").reset_index(drop=True)


def apply_citation_table(papers: pd.DataFrame, table: pd.DataFrame | str | Path, origin: str = "<citations>") -> pd.DataFrame:
    """Replace citation counts with those of a table with ``paper_id`` and ``citations`` columns."""
    if isinstance(table, (str, Path)):
        origin, table = str(table), read_table(table)
    missing = {"paper_id", "citations"} - set(table.columns)
    if missing:
        raise ValueError(f"{origin}: a citation table needs the columns paper_id and citations (missing {', '.join(sorted(missing))})")
    counts = table.assign(paper_id=table["paper_id"].astype(str)).set_index("paper_id")["citations"]
    return papers.assign(citations=papers["paper_id"].map(counts).astype("Int64"))


def paper_links(papers: pd.DataFrame) -> pd.DataFrame:
    """One row per (paper, referenced repository)."""
    return papers[["paper_id", "repos"]].explode("repos").dropna().rename(columns={"repos": "repo"}).reset_index(drop=True)


def link_papers(papers: pd.DataFrame, preds: PredictionsLike) -> pd.DataFrame:
    """Cells of the notebooks of every repository each paper references, with a ``paper_id``
    column: a paper's notebooks are concatenated into one unit, as in the CORAL paper."""
    linked = as_frame(preds).merge(paper_links(papers), on="repo", how="inner")
    return linked.sort_values(["paper_id", "notebook_id", "index"], kind="stable").reset_index(drop=True)


def paper_table(papers: pd.DataFrame, preds: PredictionsLike, problems: ProblemLog | None = None) -> pd.DataFrame:
    """Every paper with ``has_notebook``, ``notebooks`` and, for papers with notebooks, the
    per-paper measures of :func:`coral.studies.summary.summarize`."""
    linked = link_papers(papers, preds)
    summary = summarize(linked, by="paper_id")
    notebooks = linked.groupby("paper_id")["notebook_id"].nunique().rename("notebooks")
    table = papers.merge(summary, on="paper_id", how="left").merge(notebooks, on="paper_id", how="left")
    table["notebooks"] = table["notebooks"].fillna(0).astype("int64")
    table["has_notebook"] = (table["notebooks"] > 0).astype("int64")
    table["repos"] = table["repos"].map(" ".join)
    problems = problem_log(problems)
    for column in ("citations", "year", "domain"):
        for paper_id in table.loc[table[column].isna(), "paper_id"]:
            problems.add("citations", paper_id, MISSING_VALUE.format(column=column), f"the paper has no {column}; left out of the regressions")
    return table


def _regression_tables(results: list[RegressionResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.concat([r.coefficients for r in results], ignore_index=True), pd.concat([r.fit for r in results], ignore_index=True))


def run(
    preds: PredictionsLike,
    paper_paths: Iterable[str | Path],
    out_dir: str | Path,
    citations: str | Path | pd.DataFrame | None = None,
    metadata: str | Path | pd.DataFrame | None = None,
    key: str | None = None,
    all_papers: bool = False,
    min_papers: int = 20,
    scheduler: str | None = None,
) -> StudyOutput:
    """Link papers to notebooks and fit R1 (entropy), R2 (stage fractions x domain) and R3
    (has notebook); write the paper table, the links and the regression tables.

    ``metadata`` can supply a ``repo`` for notebooks whose ids are not ``gh:OWNER/NAME:PATH``.
    ``all_papers`` keeps papers without GitHub references (see :func:`read_papers`), so
    R3 contrasts papers with notebooks against all others rather than against papers
    whose repositories have no notebooks. A model is skipped (and reported) when fewer
    than ``min_papers`` papers qualify.
    """
    output = StudyOutput(Path(out_dir))
    frame = as_frame(preds, output.problems)
    if metadata is not None:
        frame = attach_metadata(frame, metadata, key, output.problems)
    papers = read_papers(paper_paths, output.problems, scheduler, all_papers)
    if citations is not None:
        papers = apply_citation_table(papers, citations)
    table = paper_table(papers, frame, output.problems)
    complete = table.dropna(subset=["citations", "year", "domain"]).astype({"citations": "int64", "year": "int64"})
    with_notebooks = complete[(complete["has_notebook"] == 1) & complete["entropy_lines"].notna()]

    links = paper_links(papers)
    links["repo_has_notebooks"] = links["repo"].isin(set(frame["repo"].dropna()))
    output.table("paper_links", links)
    output.table("papers", table)

    results: list[RegressionResult] = []
    for name, data, fit in (
        ("R1 entropy", with_notebooks, lambda d: [entropy_model(d)]),
        ("R2 stage fractions", with_notebooks, lambda d: fraction_models(d, list(STAGE_NAMES))),
        ("R3 has notebook", complete, lambda d: [has_notebook_model(d)] if d["has_notebook"].nunique() > 1 else []),
    ):
        if len(data) < min_papers:
            output.problems.add("citations", None, TOO_FEW_PAPERS, f"{name}: {len(data)} papers qualify, fewer than {min_papers}; not fitted")
            continue
        try:
            fitted = fit(data)
        except (np.linalg.LinAlgError, PerfectSeparationError, ValueError) as exc:
            output.problems.add("citations", None, FIT_FAILED, f"{name}: {type(exc).__name__}: {exc}")
            continue
        if not fitted:
            output.problems.add("citations", None, NO_CONTRAST, f"{name}: every paper has the same has_notebook value; not fitted")
        for result in fitted:
            if not result.fit["converged"].all():
                output.problems.add("citations", None, NOT_CONVERGED, f"{result.name}: the optimiser did not converge; read its coefficients with care")
        results += fitted
    if results:
        coefficients, fits = _regression_tables(results)
        output.table("regression_coefficients", coefficients)
        output.table("regression_fit", fits)
    output.write_problems()
    return output
