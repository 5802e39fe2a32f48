"""Hyper-parameters in groups: each group is one frozen dataclass, the single place where its
parameters and their defaults are written.

An encoder holds one group per concern (``graph``, ``model``, ``training``, ...) as an
``__init__`` parameter, so scikit-learn sees it as a nested estimator: ``get_params()``
lists ``graph__max_nodes`` beside ``graph``, ``set_params(graph__max_nodes=120)`` and
``sklearn.base.clone`` work, and ``coral train --param graph__max_nodes=120`` reaches it.
Groups are immutable: setting a nested parameter replaces the group, so a default group
shared by every instance is never changed by one of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Sizes and counts that must be at least 1 (a model of width 0 or 0 epochs is no model), and
# rates that must be above 0, whichever group holds them; every number must be finite and >= 0.
POSITIVE_PARAMS = frozenset({"epochs", "batch_size", "d_model", "heads", "layers", "d_ff", "n_topics", "passes",
                             "vector_size", "window", "max_nodes", "subtokens_per_node", "max_vocab", "lr", "C",
                             "max_length", "mlm_lr"})
FRACTION_PARAMS = frozenset({"dropout", "warmup", "min_lr_ratio", "val_fraction", "max_doc_fraction", "mlm_mask_rate"})  # at most 1


@dataclass(frozen=True)
class ParamGroup:
    """Base of the parameter groups; scikit-learn's ``clone`` rebuilds them from ``get_params``.

    Values are checked against the field types and ranges when a group is made, so that a
    bad ``--param`` or config is an error naming it before any corpus is read.
    """

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = field.type if isinstance(field.type, str) else field.type.__name__
            where = f"{type(self).__name__}.{field.name}"
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{where} must be true or false, got {value!r}")
            elif kind == "str":
                if not isinstance(value, str):
                    raise ValueError(f"{where} must be a string, got {value!r}")
            elif kind in ("int", "float"):
                if isinstance(value, bool) or not isinstance(value, int if kind == "int" else (int, float)):
                    raise ValueError(f"{where} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
                if kind == "float":
                    value = float(value)
                    object.__setattr__(self, field.name, value)  # encoder.json keeps the declared type
                low = "> 0" if field.name in POSITIVE_PARAMS else ">= 0"
                if not math.isfinite(value) or value < 0 or (field.name in POSITIVE_PARAMS and value <= 0):
                    raise ValueError(f"{where} must be finite and {low}, got {value!r}")
                if field.name in FRACTION_PARAMS and value > 1:
                    raise ValueError(f"{where} is a fraction: at most 1, got {value!r}")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> ParamGroup:
        """A copy with ``changes``; an unknown name is an error that lists the valid ones."""
        unknown = sorted(set(changes) - set(self.get_params()))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(self.get_params())}")
        return dataclasses.replace(self, **changes)


def split_params(params: Mapping[str, Any], groups: Mapping[str, ParamGroup]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Sort ``params`` into top-level values and per-group changes.

    A group's changes come as ``group__name=value`` or as ``group={name: value}`` (a nested
    mapping, as in a YAML config or ``encoder.json``); a bare name that exactly one group has
    (``max_nodes``, ``epochs``: the names of earlier flat ``encoder.json`` files) goes to that group.
    """
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        group, sep, name = key.partition("__")
        if sep:
            nested.setdefault(group, {})[name] = value
        elif key in groups:
            if isinstance(value, Mapping):
                nested.setdefault(key, {}).update(value)
            else:
                top[key] = value
        elif owner := _owner(key, groups):
            nested.setdefault(owner, {})[key] = value
        else:
            top[key] = value
    return top, nested


def _owner(name: str, groups: Mapping[str, ParamGroup]) -> str | None:
    owners = [group for group, config in groups.items() if name in config.get_params()]
    return owners[0] if len(owners) == 1 else None


def params_as_json(params: Mapping[str, Any]) -> dict[str, Any]:
    """``get_params(deep=False)`` with each group as a plain mapping, for ``encoder.json``."""
    return {key: value.get_params() if isinstance(value, ParamGroup) else value for key, value in params.items()}
