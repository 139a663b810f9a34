"""Denominators and uncertainty for the kinds' notebooks: rates, shares and metrics with their intervals.

Every function returns plain floats or NumPy arrays (vectorised over counts), so notebooks can add the
bounds as columns: ``frame["bas"], frame["haut"] = wilson_interval(frame["tues"], frame["usagers"])``.
Exact methods are used where they exist (Garwood for Poisson counts), Wilson for shares (good coverage
for small n, never outside [0, 1]), a seeded percentile bootstrap for retrieval metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats as _scipy_stats

ArrayLike = Any


def wilson_interval(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a share ``successes / n``; NaN where ``n`` is 0."""
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    z = _scipy_stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = k / total
        centre = (share + z * z / (2 * total)) / (1 + z * z / total)
        half = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def poisson_interval(count: ArrayLike, confidence: float = 0.95) -> tuple[Any, Any]:
    """Exact (Garwood) interval of the mean of a Poisson count; the lower bound of 0 is 0."""
    k = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, _scipy_stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = _scipy_stats.chi2.ppf(1 - alpha / 2, 2 * (k + 1)) / 2
    return low, high


def rate_interval(
    count: ArrayLike, population: ArrayLike, per: float = 100_000, confidence: float = 0.95
) -> tuple[Any, Any, Any]:
    """Rate per ``per`` inhabitants and its exact Poisson interval: ``(rate, low, high)``."""
    scale = per / np.asarray(population, dtype=float)
    low, high = poisson_interval(count, confidence)
    return np.asarray(count, dtype=float) * scale, low * scale, high * scale


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (e.g. reciprocal ranks), seeded."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return float("nan"), float("nan")
    result = _scipy_stats.bootstrap(
        (data,),
        statistic,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=False,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
