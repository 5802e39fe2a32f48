"""Data flows one way: jobs (with the views and the run manifest beside them) on top of the
stage packages, stages on top of the ground floor.

Every ``import`` in the package (at module level or inside functions) is checked against
what its layer may use, so a stage that reaches up into a job, or a sibling stage, fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import coral

PACKAGE = Path(coral.__file__).resolve().parent
GROUND = {"coral", "coral.problems", "coral.stages", "coral.jsonl", "coral.atomic", "coral.artifacts"}
JOBS_LEVEL = {"coral.jobs", "coral.views", "coral.manifest"}  # the views predict and write runs, as jobs do
ALLOWED: dict[str, set[str]] = {  # layer -> the layers it may import (besides the ground floor and itself)
    "ground": set(),
    "coral.corpora": set(),
    "coral.labeling": {"coral.corpora"},
    "coral.encoders": {"coral.corpora"},
    "coral.predictions": {"coral.corpora"},
    "coral.studies": {"coral.predictions"},
    "jobs level": {"coral.corpora", "coral.labeling", "coral.encoders", "coral.predictions", "coral.studies"},
    "coral.cli": {"coral.corpora", "coral.labeling", "coral.encoders", "coral.predictions", "coral.studies", "jobs level"},
}


def layer_of(module: str) -> str:
    if module in GROUND:
        return "ground"
    package = ".".join(module.split(".")[:2])
    return "jobs level" if package in JOBS_LEVEL else package


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name == "coral" or name.startswith("coral.")]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def test_every_import_points_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = layer_of(module_name(path))
        may_use = ALLOWED[layer] | {layer, "ground"}
        for line, imported in imports_of(path):
            if layer_of(imported) not in may_use:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({layer}) imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_rules_catch_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from coral.jobs.predict import predict_cells\n")
    assert imports_of(module) == [(2, "coral.jobs.predict")]
    assert layer_of("coral.jobs.predict") not in ALLOWED["coral.encoders"] | {"coral.encoders", "ground"}


@pytest.mark.parametrize("package, forbidden", [
    ("coral.encoders", ("coral.labeling", "coral.jobs", "coral.views", "coral.cli", "coral.studies")),
    ("coral.corpora.cells", ("coral.labeling", "coral.encoders", "coral.jobs", "coral.views", "coral.cli")),
])
def test_importing_a_stage_loads_no_other_stage(package, forbidden):
    code = f"import sys, {package}; print(' '.join(sorted(m for m in sys.modules if m.startswith('coral'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout.split()
    assert package in loaded
    assert not [module for module in loaded if module.startswith(forbidden)]
