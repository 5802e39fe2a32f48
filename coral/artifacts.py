"""Model files as data: arrays in ``.npz`` (read without pickle), everything else in JSON.

A model directory may come from anyone, so loading one must never run code. Pickles
(``.pkl``, ``.joblib``, gensim's ``.model``) can run any code when read; coral writes none
and refuses to read the ones earlier versions wrote, with an error that names the file.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from coral.atomic import atomic_path


class UnsafeModelFileError(ValueError):
    """A model file that only loads by unpickling, or a model that needs code to be trusted."""


def refuse_pickles(directory: Path, names: tuple[str, ...], remedy: str) -> None:
    """Raise when ``directory`` holds one of the pickle files ``names`` (an older coral's format)."""
    for name in names:
        if (directory / name).exists():
            raise UnsafeModelFileError(
                f"{directory / name}: a pickle, which runs code when loaded; coral does not read pickles. {remedy}"
            )


def save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write named arrays to ``path`` (.npz) through a temporary file, so a kill never leaves half a file."""
    with atomic_path(path) as temporary:
        np.savez(temporary, **{name: np.asarray(value) for name, value in arrays.items()})


def load_arrays(path: Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read named arrays from an .npz file; object arrays (which would need pickle) are refused."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the model directory")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ValueError as exc:  # numpy's refusal of object arrays and pickles
        raise UnsafeModelFileError(f"{path}: not a plain array file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: unreadable array file ({exc})") from None
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ValueError(f"{path}: lacks the arrays {', '.join(missing)}")
    return arrays


def fitted_attributes(estimator: Any, prefix: str) -> dict[str, np.ndarray]:
    """A scikit-learn estimator's fitted attributes (``coef_``, ``mean_``...) as named arrays."""
    return {f"{prefix}.{name}": np.asarray(value) for name, value in vars(estimator).items()
            if name.endswith("_") and not name.startswith("_") and value is not None}


def set_fitted_attributes(estimator: Any, arrays: Mapping[str, np.ndarray], prefix: str) -> Any:
    """Restore what ``fitted_attributes`` saved onto an unfitted estimator with the same params."""
    for key, value in arrays.items():
        if key.startswith(prefix + "."):
            setattr(estimator, key[len(prefix) + 1:], value.item() if value.ndim == 0 else value)
    return estimator


def read_token_list(path: Path) -> list[str]:
    """A vocabulary saved as a JSON list of tokens, in id order; anything else is a clear error."""
    try:
        tokens = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a vocabulary file ({exc})") from None
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise ValueError(f"{path}: a vocabulary file is a JSON list of tokens")
    return tokens
