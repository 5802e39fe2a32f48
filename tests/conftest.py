"""Shared test fixtures: ``make_cell`` (hand-made ``ParsedCell`` records), small hand-written
fixtures in tests/fixtures, and the real corpora, used only by tests marked ``shared``.

The shared data folder is ``../shared`` beside the repository, or the folder named by the
``CORAL_SHARED_DATA`` environment variable. Without the variable, ``shared`` tests skip when
the folder is missing; with it, they fail, so a mistyped path never passes as skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coral.corpora.records import ASTGraph, ParsedCell

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA_VARIABLE = "CORAL_SHARED_DATA"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    configured = os.environ.get(SHARED_DATA_VARIABLE)
    shared = Path(configured) if configured else REPO_ROOT.parent / "shared"
    if not (shared / "corpora").is_dir():
        if configured:
            pytest.fail(f"{SHARED_DATA_VARIABLE}={configured}: no corpora/ folder there")
        pytest.skip(f"the shared corpora are not at {shared} (set {SHARED_DATA_VARIABLE} to point elsewhere)")
    return shared


def build_cell(source: str = "x", *, id: str = "nb#0", **fields: Any) -> ParsedCell:
    """A ParsedCell with neutral defaults (one line, one statement, nothing imported or
    called) and the given fields overridden; the parser's job is not simulated."""
    notebook_id, _, index = id.rpartition("#")
    values: dict[str, Any] = {
        "id": id,
        "notebook_id": notebook_id or "nb",
        "index": int(index) if index.isdigit() else 0,
        "position": 0.0,
        "source": source,
        "markdown_above": "",
        "execution_count": None,
        "nbgrader": None,
        "lines": max(1, len([line for line in source.splitlines() if line.strip()])),
        "statements": 1,
        "imports": 0,
        "imported_modules": [],
        "names_bound": [],
        "single_expression": False,
        "called_names": [],
        "apis": [],
        "magics": [],
        "syntax_errors": 0,
        "graph": ASTGraph(types=["module"], values=[None], parents=[-1]),
    }
    unknown = set(fields) - set(values)
    if unknown:
        raise TypeError(f"ParsedCell has no fields {sorted(unknown)}")
    values.update(fields)
    return ParsedCell(**values)


@pytest.fixture
def make_cell() -> Callable[..., ParsedCell]:
    return build_cell
