"""Write docs/study.md from the outputs of docs/make_study.sh (run that script, not this one)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from coral.predictions import Prediction
from coral.stages import STAGE_NAMES
from coral.studies.composition import overall_composition, stage_fractions
from coral.studies.frame import load_predictions
from coral.studies.output import markdown_table

TEST_COLUMNS = ["group_a", "group_b", "measure", "n_a", "n_b", "mean_a", "mean_b", "difference", "diff_ci_low", "diff_ci_high", "effect_size", "p", "p_holm"]
FIGURES = {  # docs/figures name -> study output
    "study-composition.png": "composition/composition.png",
    "study-entropy.png": "composition/entropy.png",
    "study-position.png": "composition/position_profile.png",
    "study-transitions.png": "transitions/transitions.png",
    "study-compare-repo.png": "compare-repo/comparison.png",
    "study-functions.png": "functions/functions.png",
    "study-roles.png": "nbgrader/compare-role/comparison.png",
}


def table(work: Path, name: str, columns: list[str] | None = None, digits: int = 3) -> str:
    frame = pd.read_csv(work / f"{name}.csv")
    return markdown_table(frame[columns] if columns else frame, digits)


def position_wide(work: Path) -> str:
    profile = pd.read_csv(work / "composition" / "position_profile.csv")
    wide = profile.pivot(index="bin", columns="stage", values="share")[list(STAGE_NAMES)]
    bins = profile.drop_duplicates("bin").set_index("bin")
    wide.insert(0, "position", [f"{a:.1f}-{b:.1f}" for a, b in zip(bins["bin_start"], bins["bin_end"])])
    wide.insert(1, "cells", profile.groupby("bin")["cells"].sum())
    return markdown_table(wide.reset_index(drop=True))


def gold_versus_model(work: Path, shared: Path) -> str:
    """Composition of the 20 gh-dev notebooks: expert labels against the model's predictions."""
    gold_records = []
    for line in (shared / "annotations" / "gh-dev.jsonl").read_text().splitlines():
        record = json.loads(line)
        notebook_id, index = record["id"].rsplit("#", 1)
        gold_records.append(Prediction(record["id"], record["stage"], {}, notebook_id, int(index), 1, []))
    gold = load_predictions(gold_records)
    predicted = load_predictions(work / "predictions.jsonl")
    predicted = predicted[predicted["id"].isin(set(gold["id"]))].assign(lines=1)
    rows = {"expert labels": overall_composition(gold, stage_fractions(gold)), "model": overall_composition(predicted, stage_fractions(predicted))}
    out = pd.DataFrame({"stage": list(STAGE_NAMES)})
    for name, composition in rows.items():
        out[f"{name}: cells"] = composition["cells"].to_numpy()
        out[f"{name}: fraction"] = composition["frac_cells"].to_numpy()
    abstained = int((~predicted["labelled"]).sum())
    return markdown_table(out) + f"\nThe model abstains on {abstained} of these {len(predicted)} cells; fractions are of the labelled cells.\n"


def composition_highlights(work: Path) -> str:
    overall = pd.read_csv(work / "composition" / "composition.csv").set_index("stage")
    lines, cells = overall["frac_lines"], overall["frac_cells"]
    return (f"Most code lines go to {lines.idxmax()} ({lines.max():.0%}), most code cells to "
            f"{cells.idxmax()} ({cells.max():.0%}); the fewest lines to {lines.idxmin()} ({lines.min():.0%}).")


def comparison_highlights(tests: pd.DataFrame) -> str:
    significant = tests[tests["p_holm"] < 0.05]
    if significant.empty:
        return "No measure differs between the groups at the 5% level after Holm adjustment."
    parts = [f"{row.measure} ({row.mean_a:.3f} for {row.group_a} against {row.mean_b:.3f} for {row.group_b}, Holm p = {row.p_holm:.2g})"
             for row in significant.itertuples()]
    return "After Holm adjustment, these differ at the 5% level: " + "; ".join(parts) + "."


def roles_section(work: Path, model: str) -> str:
    """nbgrader's example course: stages of the cells students write against the others."""
    course = work / "nbgrader"
    fractions = pd.read_csv(course / "composition-role" / "stage_fractions.csv").sort_values("role")
    predictions = load_predictions(course / "predictions.jsonl")
    top = fractions.set_index("role")[[f"frac_lines_{stage}" for stage in STAGE_NAMES]].idxmax(axis=1).str.removeprefix("frac_lines_")
    units = pd.read_csv(course / "compare-role" / "units.csv")["role"].value_counts()
    coverage = [line for line in (course / "predict.log").read_text().splitlines() if "with a stage" in line][-1].split(" -> ")[0]
    return f"""## What assignments ask students to write, against what they hand them

Roles are nbgrader's cell kinds: `solution` (answer cells: students write them), `grade`
(the autograder's tests, handed to students) and `none` (cells without nbgrader metadata,
handed as they are). The GitHub corpus carries no nbgrader metadata, so this runs on
nbgrader's own example course (`tests/fixtures/nbgrader`: problem set ps1 of nbgrader's
documentation, the instructor's version and the submissions of its two example students;
BSD 3-Clause licence): {predictions["notebook_id"].nunique()} notebooks with code,
{coverage}, same model as above.

```bash
coral predict tests/fixtures/nbgrader {model} --out COURSE
coral study composition COURSE --by role --out WORK/nbgrader/composition-role
coral study compare COURSE --group role --out WORK/nbgrader/compare-role
```

Pooled by role (`--by role`; fractions of code lines):

{markdown_table(fractions[["role", "n_cells", "n_lines", *(f"frac_lines_{stage}" for stage in STAGE_NAMES)]])}
ps1 asks for small pure-Python functions (squares, sums of squares) and tests them with
assertions. The stage with most lines: {"; ".join(f"{role}: {stage}" for role, stage in top.items())}.

`compare --group role` splits each notebook into one unit per role (so a group's n is the
number of notebooks with cells of that role) and tests the roles pairwise:

![roles](figures/study-roles.png)

{table(work, "nbgrader/compare-role/group_tests", TEST_COLUMNS)}
{comparison_highlights(pd.read_csv(course / "compare-role" / "group_tests.csv"))} With
{units.min()} to {units.max()} notebooks per role these tests have little power; on a corpus
of assignments the same two commands compare roles across many notebooks.
"""


def render(work: Path, shared: Path, model: str, docs: Path) -> str:
    figures = docs / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for name, source in FIGURES.items():
        shutil.copyfile(work / source, figures / name)
    predict_log = [line for line in (work / "predict.log").read_text().splitlines() if "with a stage" in line]
    coverage = predict_log[-1].split(" -> ")[0] if predict_log else "(see predict.log)"
    transitions = pd.read_csv(work / "transitions" / "transition_summary.csv").iloc[0]
    entropy = pd.read_csv(work / "composition" / "entropy_summary.csv").iloc[0]
    problems = sum(1 for _ in open(work / "composition" / "problems.jsonl"))
    units_repo = pd.read_csv(work / "compare-repo" / "units.csv")
    groups = units_repo["course_or_tutorial"].value_counts().to_dict()

    return f"""# Studies on the GitHub corpus

*Generated by `docs/make_study.sh` (do not edit by hand: rerun it). Predictions:
`coral predict $GITHUB {model}`: {coverage}.*

These are the CORAL paper's analyses run on `GITHUB`: 6,038 notebooks from 392 public GitHub
repositories (parts a and b of the project's development corpus of about 12,000 GitHub
notebooks; [benchmarks.md](benchmarks.md) describes the data). Every number in a figure is
in a table here or in the study's CSV output. The numbers describe the model's predictions,
not expert labels: where the model abstains or errs, so do these tables (see the last
section for how far they are from expert labels on the 20 annotated notebooks).

## How it was made

```bash
docs/make_study.sh {model}
# (the data folder is $SHARED, see the script), which runs, with PRED the predictions
# above and REPOS the corpus's per-repository table (repos.tsv):
coral study composition PRED --out WORK/composition
coral study transitions PRED --out WORK/transitions
coral study compare PRED --metadata REPOS --group course_or_tutorial --unit repo --out WORK/compare-repo
coral study compare PRED --metadata REPOS --group course_or_tutorial --unit notebook_id --out WORK/compare-notebook
coral study functions PRED --out WORK/functions
# and, on nbgrader's example course (see its section):
coral study composition COURSE --by role --out WORK/nbgrader/composition-role
coral study compare COURSE --group role --out WORK/nbgrader/compare-role
```

From Python, each study is one call that writes its tables and figures, e.g.
`coral.studies.composition.run("predictions.jsonl", "out/composition")`; the measures
themselves are functions returning DataFrames (`stage_fractions`, `stage_entropy`,
`position_profile`, `transition_counts`, `transition_rates`, `summarize`, `group_means`,
`group_tests`, `function_stages`, ...).

## Definitions

- **Cells and order.** Every code cell in the predictions, ordered by its `index` in the
  notebook. A cell's position is `(rank + 0.5) / n` among the notebook's n code cells.
- **Abstentions.** Cells the model gives no stage (`stage: null`) are left out of every
  fraction and counted (`abstained_cells`, `abstained_lines`); transitions skip over them
  (the labelled cells before and after count as consecutive). A notebook whose cells all
  abstain has null fractions and is listed in `problems.jsonl` ({problems} notebooks here).
- **Fractions.** Of code lines (non-blank, non-comment) and of code cells, per notebook; a
  group of notebooks (repository, paper) concatenates its cells.
- **Entropy.** `H = -sum_k p_k ln p_k` over the five line fractions, in nats (maximum
  ln 5 = 1.609); `--log-base 2` gives bits. `z_entropy_*` standardises it across the units.
- **Transition rate.** The fraction of labelled cells with a labelled successor in the same
  notebook whose stage differs.

## Stage composition

![stage composition](figures/study-composition.png)

Pooled over all labelled cells (`frac_*`), and the mean and median of the per-notebook line
fractions:

{table(work, "composition/composition")}
{composition_highlights(work)}

## Stage entropy

![entropy histogram](figures/study-entropy.png)

{table(work, "composition/entropy_summary")}
Across {int(entropy["units"])} notebooks with at least one labelled cell.

## Where stages occur

![position profile](figures/study-position.png)

Share of the labelled cells in each tenth of the notebook that belong to each stage:

{position_wide(work)}
## Transitions

![transition heatmap](figures/study-transitions.png)

P(next code cell's stage | this cell's stage), over all notebooks:

{table(work, "transitions/transition_matrix")}
{table(work, "transitions/transition_summary")}
Of {int(transitions["pairs"])} consecutive labelled pairs, {int(transitions["changes"])}
({transitions["pooled_rate"]:.1%}) change stage.

## Course and tutorial repositories against the rest

Groups come from the corpus's per-repository table (`repos.tsv`): `course_or_tutorial = 1`
when the repository's README or name mentions a course, lecture, assignment, homework,
exercise, tutorial, book and the like (a crude rule, good enough to define groups); 0
otherwise.
Unit: the repository (its notebooks concatenated), so the many notebooks of one course do not
count as independent observations; {groups.get(1, 0)} repositories with flag 1 and
{groups.get(0, 0)} with flag 0 have labelled cells. Means with percentile-bootstrap 95% CIs
(9,999 resamples, seed 0); two-sided Mann-Whitney U tests, Holm-adjusted over the table;
`difference` is mean_a - mean_b (group a = 0, the other repositories; b = 1, courses and
tutorials); `effect_size` is U / (n_a n_b), the probability that a unit of group a exceeds
one of group b (0.5: no difference).

![course vs other](figures/study-compare-repo.png)

{table(work, "compare-repo/group_means")}
{table(work, "compare-repo/group_tests", TEST_COLUMNS)}
{comparison_highlights(pd.read_csv(work / "compare-repo" / "group_tests.csv"))}

The same comparison with the notebook as the unit (more power, but notebooks of one
repository are not independent, so its p-values are optimistic):

{table(work, "compare-notebook/group_tests", TEST_COLUMNS)}
{comparison_highlights(pd.read_csv(work / "compare-notebook" / "group_tests.csv"))}

{roles_section(work, model)}
## Functions outside the seeds (the paper's Table IV)

A cell counts for a function when one of its qualified calls is the function or a call
chained on its result.

The study is meant for functions the model never saw labelled. `coral study functions`
checks this: it applies the training LF sets (`--lfs`, default `paper` and `extended`) to a
cell calling each function and warns about every function an LF fires on; the table names
those LFs in `seen_by_lfs` and the figure marks the function with †. Its default list holds
functions no shipped LF fires on (`pandas.DataFrame.groupby`, `pivot_table`, `crosstab`,
`query`, `nunique`, `corr`, `numpy.corrcoef`, `numpy.histogram`, `scipy.stats.ks_2samp`,
`sklearn.calibration.calibration_curve`, `shap.TreeExplainer`); `--paper-list` uses the paper's
Table IV list, of which the `extended` LFs label every function but `groupby`.

![functions](figures/study-functions.png)

{table(work, "functions/functions", ["function", "cells", "abstained", *(f"frac_{s}" for s in STAGE_NAMES), "top_stage", "seen_by_lfs"])}
## Expert labels against the model on the 20 annotated notebooks

The composition of the 331 code cells of the `gh-dev` development set (cells counted, not
lines), from the expert labels and from the model's predictions: how far the tables above
may be from what experts would say.

{gold_versus_model(work, shared)}
## Citations

`coral study citations` needs a paper corpus (S2ORC / GORC JSON Lines), which the
development data does not include, so it is not run here. Its estimators are validated on simulated data in
`tests/studies/test_study_regression.py` and `tests/studies/test_study_citations.py`
(the latter end to end: papers in the GORC layout referencing repositories whose simulated
notebooks drive the citation counts; the fitted coefficients' 95% CIs cover the true ones).
To run it:

```bash
coral study citations PRED --papers s2orc/full/metadata --papers s2orc/full/pdf_parses --out WORK/citations
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--docs", type=Path, required=True)
    args = parser.parse_args()
    (args.docs / "study.md").write_text(render(args.work, args.shared, args.model, args.docs), encoding="utf-8")


if __name__ == "__main__":
    main()
