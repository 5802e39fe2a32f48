"""``manifest.json``: what a run did, beside what it wrote.

coral version, the model (name, directory, a SHA-256 over its files), the LF sets behind
it (with a SHA-256 over the files that define each), the inputs with their sizes, counts in
and out, problems by reason and the wall time. Enough to tell two runs' outputs apart and to
rerun one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from coral import __version__
from coral.atomic import write_text

MANIFEST_FILE = "manifest.json"
LABELING_DIR = Path(__file__).resolve().parent / "labeling"


def sha256_of_files(files: Iterable[Path], root: Path | None = None) -> str:
    """One digest over files' names (relative to ``root``) and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root) if root else path.name).encode() + b"\0")
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def lf_set_files(spec: str) -> list[Path]:
    """The files that define an LF set: a built-in set's module and seed file, a seed or .py
    file, or an importable module's source."""
    builtin = [LABELING_DIR / "lfs" / f"{spec}.py", LABELING_DIR / "seeds" / f"{spec}.yaml"]
    if any(path.is_file() for path in builtin) and "/" not in spec and "." not in spec:
        return [path for path in builtin if path.is_file()] + [LABELING_DIR / "lfs" / "cellfacts.py"]
    if Path(spec).is_file():
        return [Path(spec)]
    found = importlib.util.find_spec(spec) if spec.replace(".", "").replace("_", "").isalnum() else None
    return [Path(found.origin)] if found is not None and found.origin and Path(found.origin).is_file() else []


def describe_lf_sets(specs: Sequence[str]) -> list[dict[str, Any]]:
    sets = []
    for spec in specs:
        files = lf_set_files(str(spec))
        sets.append({"name": str(spec), "sha256": sha256_of_files(files) if files else None})
    return sets


def describe_model(name: str, directory: Path | None, lf_specs: Sequence[str]) -> dict[str, Any]:
    """The model entry: what ``--model`` said, the directory it resolved to, and a digest of
    every file there (weights, vocabulary, LabelModel)."""
    entry: dict[str, Any] = {"name": name, "path": str(directory) if directory else None, "weights_sha256": None}
    if directory is not None and directory.is_dir():
        files = [path for path in directory.rglob("*") if path.is_file()]
        entry["weights_sha256"] = sha256_of_files(files, directory)
    entry["lf_sets"] = describe_lf_sets(lf_specs)
    return entry


def describe_inputs(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Each input with its size in bytes (a folder: its files, counted and summed)."""
    inputs = []
    for path in map(Path, paths):
        if path.is_dir():
            files = [Path(root) / name for root, _, names in os.walk(path) for name in names]
            inputs.append({"path": str(path), "files": len(files), "bytes": sum(f.stat().st_size for f in files if f.is_file())})
        elif path.exists():
            inputs.append({"path": str(path), "bytes": path.stat().st_size})
        else:
            inputs.append({"path": str(path), "bytes": None})
    return inputs


def describe_stage_model(name: str, stage_model: object) -> dict[str, Any]:
    """The manifest's model entry for a model ``load_stage_model(name)`` returned: heuristics
    name their LF sets; an encoder directory names those it was trained from (train.json), and
    whether its notebook HMM reads the cells in context."""
    from coral.labeling.model import HeuristicStageModel
    from coral.jobs.predict import DEFAULT_MODEL_DIR

    directory = DEFAULT_MODEL_DIR if name == "default" else Path(name) if Path(name).is_dir() else None
    if isinstance(stage_model, HeuristicStageModel):
        return describe_model(name, directory, stage_model.lf_specs)
    train = directory / "train.json" if directory is not None else None
    lfs = json.loads(train.read_text()).get("lfs", []) if train is not None and train.is_file() else []
    return {**describe_model(name, directory, lfs), "notebook_hmm": getattr(stage_model, "hmm", None) is not None}


def write_manifest(
    path: str | Path,
    *,
    command: str,
    model: Mapping[str, Any],
    inputs: Iterable[str | Path],
    counts: Mapping[str, int],
    problems_by_reason: Mapping[str, int],
    seconds: float,
    outputs: Iterable[str | Path] = (),
) -> Path:
    """Write the manifest to ``path`` (``OUT/manifest.json`` for runs that write a folder)."""
    path = Path(path)
    manifest = {
        "coral_version": __version__,
        "command": command,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "model": dict(model),
        "inputs": describe_inputs(inputs),
        "counts": dict(counts),
        "problems_by_reason": dict(sorted(problems_by_reason.items())),
        "wall_seconds": round(seconds, 3),
        "outputs": [str(path) for path in outputs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path
