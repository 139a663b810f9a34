"""Denominators and uncertainty for the kinds' notebooks: rates, shares and metrics with their intervals.

Every function returns plain floats or NumPy arrays (vectorised over counts), so notebooks can add the
bounds as columns: ``frame["bas"], frame["haut"] = wilson_interval(frame["tues"], frame["usagers"])``.
Exact methods are used where they exist (Garwood for Poisson counts), Wilson for shares (good coverage
for small n, never outside [0, 1]), a seeded percentile bootstrap for retrieval metrics.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import special as _special  # not scipy.stats: 0.3 s to import instead of 1.6 s, in every kernel

__all__ = [
    "LOCKDOWN_YEAR",
    "bootstrap_interval",
    "poisson_interval",
    "rate_interval",
    "spearman",
    "wilson_interval",
    "with_population",
    "year_over_year",
]

ArrayLike = Any


def wilson_interval(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a share ``successes / n``; NaN where ``n`` is 0."""
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    z = _special.ndtri(0.5 + confidence / 2)  # the normal quantile
    with np.errstate(divide="ignore", invalid="ignore"):
        share = k / total
        centre = (share + z * z / (2 * total)) / (1 + z * z / total)
        half = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def poisson_interval(count: ArrayLike, confidence: float = 0.95) -> tuple[Any, Any]:
    """Exact (Garwood) interval of the mean of a Poisson count; the lower bound of 0 is 0."""
    k = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    # chi2.ppf(q, 2k) / 2 is the q-quantile of a Gamma(k, 1): the inverse regularised incomplete gamma
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, _special.gammaincinv(np.where(k > 0, k, 1.0), alpha / 2), 0.0)
        high = _special.gammaincinv(k + 1, 1 - alpha / 2)
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
    from scipy import stats  # here only: scipy.stats is slow to import and only this function needs it

    result = stats.bootstrap(
        (data,),
        statistic,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=False,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def spearman(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> dict[str, float]:
    """Spearman's rank correlation of ``x`` and ``y``, as ``{"rho", "p_value", "low", "high", "n"}``.

    ``x`` and ``y`` are paired by position, as in ``scipy.stats.spearmanr`` (pass two columns of one frame);
    two Series whose indexes differ are refused rather than paired by position (align them first, with
    ``x, y = x.align(y, join="inner")``). Pairs with a missing value (NaN, None, ``pd.NA``) are left out.
    ``rho`` and the two-sided ``p_value`` are scipy's (ties take their average rank; the p-value comes from
    Student's t with n - 2 degrees of freedom). ``low``/``high``: Fisher's z interval with Bonett and
    Wright's standard error, sqrt((1 + rho²/2) / (n - 3)) (2000). NaN where the sample cannot say: fewer
    than 3 pairs or a constant variable (everything), fewer than 4 pairs or a perfect rank order (rho of
    ±1, p-value 0: the interval).
    """
    if not 0 < confidence < 1:
        raise ValueError(
            f"spearman(): confidence is a share between 0 and 1 (0.95 for 95 %), not {confidence!r}."
        )
    _refuse_misaligned(x, y)
    first, second = _as_floats(x, "x"), _as_floats(y, "y")
    if len(first) != len(second):
        raise ValueError(
            f"spearman(): x and y are paired by position but hold {len(first)} and {len(second)} values."
        )
    pairs = np.column_stack([first, second])
    pairs = pairs[~np.isnan(pairs).any(axis=1)]
    n = len(pairs)
    rho = p_value = low = high = float("nan")
    if n >= 3 and np.ptp(pairs[:, 0]) > 0 and np.ptp(pairs[:, 1]) > 0:
        ranks = [_average_ranks(pairs[:, column]) for column in (0, 1)]
        rho = float(np.clip(np.corrcoef(*ranks)[0, 1], -1.0, 1.0))
        if abs(rho) > 1 - 1e-12:  # a perfect rank order, up to rounding
            return {"rho": float(np.sign(rho)), "p_value": 0.0, "low": low, "high": high, "n": n}
        t = rho * np.sqrt((n - 2) / ((1.0 + rho) * (1.0 - rho)))
        p_value = float(2 * _special.stdtr(n - 2, -abs(t)))
        if n >= 4:
            z = _special.ndtri(0.5 + confidence / 2)
            spread = z * np.sqrt((1 + rho * rho / 2) / (n - 3))
            low, high = (float(np.tanh(np.arctanh(rho) + sign * spread)) for sign in (-1, 1))
    return {"rho": rho, "p_value": p_value, "low": low, "high": high, "n": n}


def _refuse_misaligned(x: ArrayLike, y: ArrayLike) -> None:
    """Raise when ``x`` and ``y`` both carry an index (pandas Series) and the indexes differ: pairing them by
    position would correlate one département's value with another's."""
    pandas = sys.modules.get("pandas")  # not imported: neither can be a Series
    if pandas is None or not (isinstance(x, pandas.Series) and isinstance(y, pandas.Series)):
        return
    x_index, y_index = x.index, y.index
    if x_index.equals(y_index):
        return
    if x_index.has_duplicates or y_index.has_duplicates:
        raise ValueError(
            "spearman(): x and y are Series whose indexes differ and repeat labels: they cannot be paired on "
            "their labels (aligning them would pair every repeat with every other). Build the pairs in one "
            "frame (a merge on the key) and pass two of its columns."
        )
    only_x, only_y = x_index.difference(y_index), y_index.difference(x_index)
    if len(only_x) or len(only_y):
        detail = f"{len(only_x)} labels only in x (first: {list(only_x[:3])}), {len(only_y)} only in y"
    else:
        detail = "the same labels in another order"
    raise ValueError(
        f"spearman(): x and y are Series whose indexes differ ({detail}); pairing them by position would "
        'pair unrelated rows. Align them first: x, y = x.align(y, join="inner").'
    )


def _as_floats(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a one-dimensional float array, NaN where a value is missing (``pd.NA`` included)."""
    try:
        array = np.asarray(values, dtype=float)
    except TypeError:  # pd.NA in a list or an object column
        import pandas as pd

        array = pd.Series(values, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)
    if array.ndim != 1:
        raise ValueError(f"spearman(): {name} must be one-dimensional, not of shape {array.shape}.")
    return array


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)] - 1
    ranks = np.empty(len(values))
    ranks[order] = (first[group] + last[group]) / 2 + 1
    return ranks


def with_population(
    frame: Any,
    population: Any,
    *,
    dep: str = "dep",
    year: str = "an",
    per: float = 100_000,
    count: str | None = None,
) -> Any:
    """``frame`` with the INSEE ``population`` of its département and year joined (pandas frames).

    ``population`` has ``dep``, ``annee`` and ``population`` columns (``data.load("insee.population")``). A
    year
    the population file does not cover takes the NEAREST year it covers, written in ``annee_population`` so
    that
    the notebook can say so. With ``count``, adds ``taux``, ``taux_bas`` and ``taux_haut``: the rate per
    ``per``
    inhabitants and its exact Poisson interval. Rows of a département without population get NaN.
    """
    import pandas as pd

    known = population[["dep", "annee", "population"]].dropna().copy()
    known["dep"] = known["dep"].astype(str)
    known["annee"] = known["annee"].astype("int64")
    known["population"] = known["population"].astype("float64")
    out = frame.copy()
    out["_order"] = range(len(out))
    keys = pd.DataFrame(
        {"dep": out[dep].astype(str), "annee": out[year].astype("int64"), "_order": out["_order"]}
    )
    joined = pd.merge_asof(
        keys.sort_values("annee"),
        known.sort_values("annee").assign(annee_population=lambda f: f["annee"]),
        on="annee",
        by="dep",
        direction="nearest",
    ).set_index("_order")
    out["population"] = out["_order"].map(joined["population"])
    out["annee_population"] = out["_order"].map(joined["annee_population"]).astype("Int64")
    out = out.drop(columns="_order")
    if count is not None:
        rate, low, high = rate_interval(out[count], out["population"], per=per)
        out["taux"], out["taux_bas"], out["taux_haut"] = rate, low, high
    return out


#: the year of the lockdowns (traffic, activity and recorded events all fell): never read as a trend
LOCKDOWN_YEAR = 2020


def year_over_year(counts: Any, sample: bool = False) -> Any:
    """Counts per year read one year after another, with their exact Poisson interval and a remark.

    ``counts``: a pandas Series indexed by year. Returns a frame ``annee``, ``nombre``, ``bas``, ``haut``,
    ``variation`` (% from the previous year shown) and ``remarque`` (French): 2020 is flagged (lockdowns), so
    is 2021's change from 2020, and a change over several years says so. With ``sample=True`` (a notebook's
    embedded sample, whose yearly sizes say nothing) no change is computed: "échantillon : pas de tendance".
    """
    import pandas as pd

    years = pd.Series(counts).sort_index()
    low, high = poisson_interval(years.to_numpy())
    frame = pd.DataFrame(
        {"annee": years.index.astype(int), "nombre": years.to_numpy(), "bas": low, "haut": high}
    )
    frame["variation"] = frame["nombre"].astype(float).pct_change() * 100
    gap = frame["annee"].diff()
    remark = pd.Series("", index=frame.index, dtype=object)
    remark[gap > 1] = "variation sur " + gap[gap > 1].astype(int).astype(str) + " ans"
    previous = frame["annee"].shift(1)
    remark[(previous < LOCKDOWN_YEAR) & (frame["annee"] > LOCKDOWN_YEAR)] = (
        f"variation à travers {LOCKDOWN_YEAR} (confinements) : pas une tendance"
    )
    remark[previous == LOCKDOWN_YEAR] = f"variation depuis {LOCKDOWN_YEAR} (confinements) : pas une tendance"
    remark[frame["annee"] == LOCKDOWN_YEAR] = f"{LOCKDOWN_YEAR} : confinements, année atypique"
    if sample:
        frame["variation"] = float("nan")
        remark[:] = "échantillon : pas de tendance"
    frame["remarque"] = remark.to_numpy()
    return frame
