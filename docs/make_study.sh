#!/usr/bin/env bash
# Regenerate docs/study.md and docs/figures/study-*.png from the GitHub corpus in ../shared.
#
#   docs/make_study.sh                          # heuristics, extended LFs, LabelModel
#   docs/make_study.sh --model runs/coral-gnn   # any `coral predict` model options
#
# Environment: SHARED (default ../shared), WORK (scratch folder for predictions and the
# full study outputs; default $TMPDIR/coral-study), CORAL (the CLI; default coral).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
WORK="${WORK:-${TMPDIR:-/tmp}/coral-study}"
CORAL="${CORAL:-coral}"
PYTHON="${PYTHON:-$(dirname "$(command -v "$CORAL")")/python}"
if [ $# -gt 0 ]; then MODEL=("$@"); else MODEL=(--model heuristics --lfs extended --aggregate labelmodel); fi

GITHUB="$SHARED/corpora/github"
PRED="$WORK/predictions.jsonl"
mkdir -p "$WORK"

"$CORAL" predict "$GITHUB" "${MODEL[@]}" --out "$PRED" | tee "$WORK/predict.log"
"$CORAL" study composition "$PRED" --out "$WORK/composition"
"$CORAL" study transitions "$PRED" --out "$WORK/transitions"
# Groups: repos.tsv's course_or_tutorial flag (README or repository name mentions course,
# lecture, assignment, homework, exercise, tutorial, book...). Unit: the repository, so that
# the notebooks of one repository are not counted as independent observations.
"$CORAL" study compare "$PRED" --metadata "$GITHUB/repos.tsv" --group course_or_tutorial --unit repo --out "$WORK/compare-repo"
"$CORAL" study compare "$PRED" --metadata "$GITHUB/repos.tsv" --group course_or_tutorial --unit notebook_id --out "$WORK/compare-notebook"
"$CORAL" study functions "$PRED" --out "$WORK/functions"
# Roles: nbgrader's own example course (its ps1, instructor's version and two students'
# submissions; BSD-3-Clause), since the GitHub corpus carries no nbgrader metadata.
COURSE_PRED="$WORK/nbgrader/predictions.jsonl"
mkdir -p "$WORK/nbgrader"
"$CORAL" predict "$ROOT/tests/fixtures/nbgrader" "${MODEL[@]}" --out "$COURSE_PRED" | tee "$WORK/nbgrader/predict.log"
"$CORAL" study composition "$COURSE_PRED" --by role --out "$WORK/nbgrader/composition-role"
"$CORAL" study compare "$COURSE_PRED" --group role --out "$WORK/nbgrader/compare-role"

"$PYTHON" "$ROOT/docs/render_study.py" --work "$WORK" --shared "$SHARED" --model "${MODEL[*]}" --docs "$ROOT/docs"
