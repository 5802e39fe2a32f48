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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamGroup:
    """Base of the parameter groups; scikit-learn's ``clone`` rebuilds them from ``get_params``."""

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
