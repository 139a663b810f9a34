"""Statistical confidentiality ("secret statistique"): no published cell counts fewer than a threshold.

The threshold is the workspace's ``[tool.eig] secret_statistique`` (default 11, the usual rule for
counts of people). :func:`protect` blanks counts from 1 to threshold-1 (zero is published: it discloses no
one) and every column derived from them on the same row; :func:`write_csv` applies it to every export to
``data/processed``, so no file written by a notebook holds a small count.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from eigkit.atomic import atomic_path
from eigkit.paths import workspace_root
from eigkit.settings import eig_settings

__all__ = ["DEFAULT_THRESHOLD", "protect", "shown_count", "small_cells", "threshold", "write_csv"]

DEFAULT_THRESHOLD = 11


def threshold(workspace: Path | str | None = None) -> int:
    """The workspace's ``[tool.eig] secret_statistique`` (default 11)."""
    root = workspace_root(workspace)
    if root is None:
        return DEFAULT_THRESHOLD
    value = eig_settings(root).get("secret_statistique", DEFAULT_THRESHOLD)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{root / 'pyproject.toml'}: [tool.eig] secret_statistique must be a whole number >= 1, "
            f"not {value!r}."
        )
    return value


def small_cells(frame: pd.DataFrame, counts: Iterable[str], limit: int | None = None) -> pd.Series:
    """Boolean mask of the rows where any of ``counts`` is between 1 and ``limit - 1``."""
    limit = threshold() if limit is None else limit
    mask = pd.Series(False, index=frame.index)
    for column in counts:
        values = pd.to_numeric(frame[column], errors="coerce")
        mask |= (values > 0) & (values < limit)
    return mask


def protect(
    frame: pd.DataFrame,
    counts: Iterable[str],
    derived: Iterable[str] = (),
    limit: int | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` where small ``counts`` and the ``derived`` columns of their rows are blanked."""
    counts = list(counts)
    hidden = small_cells(frame, counts, limit)
    protected = frame.copy()
    if not hidden.any():
        return protected
    for column in [*counts, *derived]:
        protected[column] = protected[column].astype(_nullable(frame[column]))
        protected.loc[hidden, column] = pd.NA
    return protected


def write_csv(
    frame: pd.DataFrame,
    path: Path | str,
    counts: Iterable[str],
    derived: Iterable[str] = (),
    limit: int | None = None,
) -> Path:
    """Write ``protect(frame, counts, derived)`` to ``path`` as UTF-8 CSV, atomically; return the path."""
    target = Path(path)
    with atomic_path(target) as temporary:
        protect(frame, counts, derived, limit).to_csv(temporary, index=False)
    return target


def _nullable(column: pd.Series) -> str:
    """A dtype of the same kind as ``column`` that can hold a blank (integers stay integers)."""
    if pd.api.types.is_integer_dtype(column):
        return "Int64"
    return "Float64" if pd.api.types.is_numeric_dtype(column) else "object"


def shown_count(count: int | float, limit: int | None = None) -> str:
    """A count as a notebook may print it: French digits, or "moins de N" under the threshold."""
    from eigkit.notebook import fmt_number

    limit = threshold() if limit is None else limit
    if count != count:  # NaN
        return "–"
    if 0 < count < limit:
        return f"moins de {limit}"
    return fmt_number(count)
