"""Time the studies on a predictions file, and paper-reference extraction on a synthetic corpus.

    python benchmarks/studies.py PREDICTIONS.jsonl [--metadata repos.tsv --group course_or_tutorial] [--papers 20000]

Prints one line per step: seconds and throughput.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from coral.studies import compare, composition, functions, transitions
from coral.studies.citations import read_papers
from coral.studies.frame import load_predictions
from coral.studies.summary import summarize


def timed(label: str, work, count: int | None = None, unit: str = "cells"):
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    rate = f"  {count / seconds:,.0f} {unit}/s" if count else ""
    print(f"{label:<38} {seconds:7.2f} s{rate}")
    return result


def synthetic_papers(folder: Path, n_papers: int, n_files: int = 4) -> list[Path]:
    """GORC-layout papers with a few paragraphs each; a third reference a repository."""
    rng = random.Random(0)
    paths = [folder / f"papers-{i}.jsonl" for i in range(n_files)]
    outs = [open(p, "w") for p in paths]
    filler = "We analyse the data with standard methods and report the results in Table 2. " * 6
    for i in range(n_papers):
        paragraphs = [{"text": filler, "cite_spans": []} for _ in range(8)]
        if i % 3 == 0:
            paragraphs[3]["text"] += f" Code: https://github.com/owner{rng.randrange(500)}/repo{i}."
        record = {"paper_id": str(i), "metadata": {"year": 2015 + i % 6, "mag_field_of_study": ["Computer Science"], "inbound_citations": ["x"] * (i % 7)},
                  "grobid_parse": {"body_text": paragraphs, "bib_entries": {"BIBREF0": {"title": "A paper", "raw_text": filler}}}}
        outs[i % n_files].write(json.dumps(record) + "\n")
    for out in outs:
        out.close()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", type=Path)
    parser.add_argument("--metadata", type=Path)
    parser.add_argument("--group", default="course_or_tutorial")
    parser.add_argument("--papers", type=int, default=20000)
    args = parser.parse_args()

    frame = timed("load predictions", lambda: load_predictions(args.predictions))
    n = len(frame)
    print(f"{n:,} cells, {frame['notebook_id'].nunique():,} notebooks")
    timed("summarize per notebook", lambda: summarize(frame), n)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        timed("composition.run (tables + figures)", lambda: composition.run(frame, out / "c"), n)
        timed("transitions.run", lambda: transitions.run(frame, out / "t"), n)
        timed("functions.run (8 functions)", lambda: functions.run(frame, out / "f"), n)
        if args.metadata:
            timed("compare.run (repo unit, 9999 resamples)", lambda: compare.run(frame, args.metadata, args.group, out / "g", by="repo"), n)
        if args.papers:
            files = synthetic_papers(out, args.papers)
            for scheduler in ("sync", "threads", "processes"):
                timed(f"read_papers ({scheduler})", lambda: read_papers(files, dask_scheduler=scheduler), args.papers, "papers")


if __name__ == "__main__":
    main()
