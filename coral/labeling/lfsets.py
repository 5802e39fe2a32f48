"""Finding labeling functions by name: built-in sets, seed files, Python files and modules.

``--lfs`` accepts any of these and may be repeated; ``load_lf_sets`` combines them and
insists that LF names are unique (they name the columns of the label matrix).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from snorkel.labeling import LabelingFunction

from coral.labeling.seedfiles import SEED_FILE_SUFFIXES, load_seed_lfs


class LFLoadError(ValueError):
    """An LF set that cannot be loaded; the message names the set, file or module."""


def _paper() -> list[LabelingFunction]:
    from coral.labeling.lfs import paper

    return paper.lfs()


def _extended() -> list[LabelingFunction]:
    from coral.labeling.lfs import extended

    return extended.lfs()


BUILTIN_LF_SETS: dict[str, Callable[[], list[LabelingFunction]]] = {"paper": _paper, "extended": _extended}


def load_lfs(name_or_path: str) -> list[LabelingFunction]:
    """Load one LF set: a built-in name, a seed file (.yaml/.json), a .py file or a module name.

    From Python sources, the LFs are the module's ``LFS`` list when it defines one, else every
    module-level ``LabelingFunction`` in definition order.
    """
    spec = str(name_or_path)
    if spec in BUILTIN_LF_SETS:
        return BUILTIN_LF_SETS[spec]()
    path = Path(spec)
    if path.suffix in SEED_FILE_SUFFIXES:
        if not path.is_file():
            raise LFLoadError(f"{path}: seed file not found")
        lfs = load_seed_lfs(path)
    elif path.suffix == ".py":
        if not path.is_file():
            raise LFLoadError(f"{path}: labeling-function file not found")
        lfs = _lfs_of_module(_import_file(path), spec)
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise LFLoadError(
                f"{spec!r} is not a built-in LF set ({', '.join(BUILTIN_LF_SETS)}), an existing "
                f"seed (.yaml/.json) or .py file, or an importable module ({exc})"
            ) from exc
        except Exception as exc:
            raise LFLoadError(f"module {spec!r} failed to import: {type(exc).__name__}: {exc}") from exc
        lfs = _lfs_of_module(module, spec)
    if not lfs:
        raise LFLoadError(f"{spec}: defines no labeling functions (use snorkel's @labeling_function)")
    return lfs


def load_lf_sets(specs: Iterable[str]) -> list[LabelingFunction]:
    """Load and concatenate several LF sets; LF names must be unique across them."""
    lfs = [lf for spec in specs for lf in load_lfs(spec)]
    if not lfs:
        raise LFLoadError("no LF sets given")
    duplicates = sorted(name for name, count in Counter(lf.name for lf in lfs).items() if count > 1)
    if duplicates:
        raise LFLoadError(f"labeling-function names must be unique; repeated: {', '.join(duplicates)}")
    return lfs


def describe_lf(lf: LabelingFunction) -> str:
    """One line on what an LF is for: a seed rule's description, else its docstring's first line."""
    description = getattr(lf, "description", None)
    if description:
        return description
    doc = (getattr(lf._f, "__doc__", None) or "").strip().splitlines()  # Snorkel keeps the function as _f
    return doc[0] if doc else ""


def portable_lf_spec(spec: str) -> str:
    """An LF-set spec that means the same from any working directory or machine that shares
    the files: seed and .py files by absolute path, built-in names and modules as given."""
    path = Path(spec)
    return str(path.resolve()) if path.suffix in (*SEED_FILE_SUFFIXES, ".py") and path.is_file() else spec


def is_code_lf_spec(spec: str) -> bool:
    """Whether loading the LF set ``spec`` runs its code: a .py file or a module (not a built-in set or a seed file)."""
    return spec not in BUILTIN_LF_SETS and Path(spec).suffix not in SEED_FILE_SUFFIXES


def _import_file(path: Path) -> ModuleType:
    """Import a .py file under a name derived from its absolute path, so that two files
    called ``my_lfs.py`` do not collide and worker processes can unpickle its LFs."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    module_name = f"coral_user_lfs_{resolved.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise LFLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise LFLoadError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def _lfs_of_module(module: ModuleType, spec: str) -> list[LabelingFunction]:
    declared = getattr(module, "LFS", None)
    if declared is None:
        return [value for value in vars(module).values() if isinstance(value, LabelingFunction)]
    declared = list(declared)
    wrong = [repr(item) for item in declared if not isinstance(item, LabelingFunction)]
    if wrong:
        raise LFLoadError(f"{spec}: LFS holds objects that are not labeling functions: {', '.join(wrong[:3])}")
    return declared
