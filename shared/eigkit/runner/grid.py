"""Parameter grids: the many parameter sets one ``eig run --grid FILE`` runs.

A grid file is YAML, either a mapping ``parameter -> list of values`` (every combination is run: the
cartesian product, in file order) or a list of mappings (each one parameter set). Scalars are kept as
text, parsed later by each notebook's declared types (see :mod:`eigkit.runner.params`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eigkit.runner.params import ParameterError, load_yaml_text


def expand_grid(content: Any, source: str = "grid") -> list[dict[str, Any]]:
    """Turn a grid (mapping of lists, or list of mappings) into the list of its parameter sets."""
    if isinstance(content, Mapping):
        names = list(content)
        choices = []
        for name in names:
            values = content[name]
            if not isinstance(values, list) or not values:
                raise ParameterError(
                    f"{source}: '{name}' must be a non-empty list of values, e.g. {name}: ['01', '2A']."
                )
            choices.append(values)
        return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*choices)]
    if isinstance(content, list) and content and all(isinstance(item, Mapping) for item in content):
        return [dict(item) for item in content]
    raise ParameterError(
        f"{source}: a grid is a mapping 'parameter: [values...]' or a non-empty list of parameter mappings."
    )


def load_grid(path: Path | str) -> list[dict[str, Any]]:
    """Read a grid file and return its parameter sets."""
    return expand_grid(load_yaml_text(path), source=str(path))
