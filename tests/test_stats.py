"""Intervals against independent references (scipy's own binomtest, published Garwood tables) and the
disclosure rule on a constructed table and a workspace setting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from eigkit import disclosure
from eigkit.stats import bootstrap_interval, poisson_interval, rate_interval, spearman, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(1, 7), (0, 12), (12, 12), (112, 150), (3, 1000)])
def test_wilson_matches_scipy_binomtest(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    reference = binomtest(k, n).proportion_ci(method="wilson")
    assert low == pytest.approx(reference.low, abs=1e-9)
    assert high == pytest.approx(reference.high, abs=1e-9)


def test_wilson_is_vectorised_and_nan_for_empty_groups() -> None:
    low, high = wilson_interval(np.array([1, 0]), np.array([7, 0]))
    assert low[0] == pytest.approx(0.0257, abs=1e-4) and high[0] == pytest.approx(0.5131, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])


@pytest.mark.parametrize(
    ("count", "low", "high"),
    [(0, 0.0, 3.689), (1, 0.0253, 5.572), (10, 4.795, 18.39), (100, 81.36, 121.6)],  # Garwood (1936) table
)
def test_poisson_interval_matches_garwood_table(count: int, low: float, high: float) -> None:
    got_low, got_high = poisson_interval(count)
    assert float(got_low) == pytest.approx(low, rel=2e-3, abs=1e-4)
    assert float(got_high) == pytest.approx(high, rel=2e-3)


def test_rate_interval_scales_counts_by_population() -> None:
    rate, low, high = rate_interval([10], [200_000], per=100_000)
    assert rate[0] == pytest.approx(5.0)
    assert low[0] == pytest.approx(4.795 / 2, rel=2e-3) and high[0] == pytest.approx(18.39 / 2, rel=2e-3)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    values = np.array([1, 0.5, 0, 1, 0.33, 1, 0, 0.25, 1, 0.5])
    first = bootstrap_interval(values, seed=3)
    assert first == bootstrap_interval(values, seed=3)
    assert first[0] < values.mean() < first[1]
    assert first[0] >= 0 and first[1] <= 1


def test_protect_blanks_small_counts_and_their_derived_cells() -> None:
    frame = pd.DataFrame(
        {"dep": ["01", "02", "03", "04"], "tues": [0, 3, 11, 10], "taux": [0.0, 1.5, 2.0, 3.0]}
    )
    protected = disclosure.protect(frame, counts=["tues"], derived=["taux"], limit=11)
    assert protected["tues"].isna().tolist() == [False, True, False, True]
    assert protected["taux"].isna().tolist() == [False, True, False, True]
    assert protected.loc[0, "tues"] == 0  # a zero discloses no one
    assert frame["tues"].tolist() == [0, 3, 11, 10]  # the input is not changed


def test_threshold_comes_from_the_workspace(tmp_path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.eig]\nsecret_statistique = 5\n", encoding="utf-8")
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert disclosure.threshold() == 5
    frame = pd.DataFrame({"dep": ["01", "02"], "n": [4, 5]})
    out = disclosure.write_csv(frame, tmp_path / "data" / "t.csv", counts=["n"])
    assert out.read_text(encoding="utf-8").splitlines() == ["dep,n", "01,", "02,5"]
    (tmp_path / "pyproject.toml").write_text("[tool.eig]\nsecret_statistique = 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="secret_statistique"):
        disclosure.threshold()


def test_threshold_defaults_to_eleven_outside_a_workspace(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert disclosure.threshold() == 11


def test_year_over_year_flags_2020_and_gaps_and_says_no_trend_on_a_sample() -> None:
    from eigkit.stats import year_over_year

    table = year_over_year(pd.Series({2019: 100, 2020: 80, 2021: 90, 2023: 99}))
    assert table["annee"].tolist() == [2019, 2020, 2021, 2023]
    assert table["variation"].round(6).tolist()[1:] == [-20.0, 12.5, 10.0]
    assert table["remarque"].tolist() == [
        "",
        "2020 : confinements, année atypique",
        "variation depuis 2020 (confinements) : pas une tendance",
        "variation sur 2 ans",
    ]
    across = year_over_year(pd.Series({2013: 10, 2021: 12}))
    assert across["remarque"].tolist() == ["", "variation à travers 2020 (confinements) : pas une tendance"]
    low, high = poisson_interval(12)
    assert across["bas"].iloc[1] == pytest.approx(low) and across["haut"].iloc[1] == pytest.approx(high)
    sample = year_over_year(pd.Series({2013: 10, 2021: 12}), sample=True)
    assert sample["variation"].isna().all()
    assert set(sample["remarque"]) == {"échantillon : pas de tendance"}


@pytest.mark.parametrize("seed", range(6))
def test_spearman_is_scipy_spearmanr_with_an_interval(seed: int) -> None:
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(seed)
    n = [5, 12, 40, 101, 7, 300][seed]
    x = rng.integers(0, 8, n).astype(float)  # ties on purpose
    y = x * rng.uniform(-1, 1) + rng.normal(0, 2, n)
    if seed == 4:
        x[2], y[5] = np.nan, np.nan  # pairs with a missing value are left out, as with nan_policy="omit"
    result = spearman(x, y)
    kept = ~(np.isnan(x) | np.isnan(y))
    expected = scipy_stats.spearmanr(x[kept], y[kept])
    assert result["n"] == kept.sum()
    assert result["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    z = np.arctanh(result["rho"])
    half = 1.959963984540054 * np.sqrt((1 + result["rho"] ** 2 / 2) / (result["n"] - 3))
    assert (result["low"], result["high"]) == pytest.approx((np.tanh(z - half), np.tanh(z + half)))
    assert result["low"] < result["rho"] < result["high"]


def test_spearman_says_nothing_it_cannot_know() -> None:
    assert np.isnan(spearman([1, 2], [3, 4])["rho"])  # two pairs
    constant = spearman([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])
    assert np.isnan(constant["rho"]) and np.isnan(constant["p_value"]) and constant["n"] == 5
    three = spearman([1, 2, 3], [1, 3, 2])
    assert three["rho"] == pytest.approx(0.5) and np.isnan(three["low"])  # no interval under 4 pairs
    for x, y, sign in (([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], 1.0), ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
                       ([1, 2, 3], [1, 2, 3], 1.0)):  # fmt: skip
        perfect = spearman(x, y)  # a perfect rank order: scipy's rho and p-value, and no Fisher interval
        assert (perfect["rho"], perfect["p_value"]) == (sign, 0.0) and np.isnan(perfect["low"])


def test_spearman_reads_missing_values_and_refuses_what_it_cannot_pair() -> None:
    with_na = spearman([1, pd.NA, 3, 4, 5, 6], pd.Series([2, 1, 4, 3, 6, 5], dtype="Int64"))
    assert with_na["n"] == 5 and with_na == spearman([1, 3, 4, 5, 6], [2, 4, 3, 6, 5])
    with pytest.raises(ValueError, match=r"confidence is a share between 0 and 1 \(0.95 for 95 %\), not 95"):
        spearman([1, 2, 3, 4], [1, 3, 2, 4], confidence=95)
    with pytest.raises(ValueError, match="paired by position but hold 3 and 2 values"):
        spearman([1, 2, 3], [1, 2])


def test_spearman_refuses_two_series_whose_indexes_differ_instead_of_pairing_them_by_position() -> None:
    rates = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=["01", "02", "03", "04", "05"])
    reordered = rates.sort_index(ascending=False) * 2  # the same départements, listed the other way round
    with pytest.raises(ValueError, match=r"indexes differ \(the same labels in another order\).*x.align\(y"):
        spearman(rates, reordered)
    aligned_x, aligned_y = rates.align(reordered, join="inner")
    assert spearman(aligned_x, aligned_y)["rho"] == 1.0  # aligned on the départements: a perfect order
    with pytest.raises(ValueError, match=r"1 labels only in x \(first: \['05'\]\), 1 only in y"):
        spearman(rates, pd.Series([5.0, 4.0, 3.0, 2.0, 1.0], index=["01", "02", "03", "04", "2A"]))
    frame = pd.DataFrame({"x": [3, 1, 2, 5, 4], "y": [30, 10, 20, 50, 40]}, index=[9, 7, 8, 6, 5])
    assert spearman(frame["x"], frame["y"])["rho"] == 1.0  # two columns of one frame: one index
    assert spearman(rates, [1, 2, 3, 4, 5])["rho"] == 1.0  # a list has no index: paired by position
    repeated = pd.Series([1.0, 2.0, 3.0, 4.0], index=["a", "a", "b", "b"])
    for other in (["a", "b", "a", "b"], ["a", "a", "b", "c"]):  # aligning would pair every "a" with every "a"
        with pytest.raises(ValueError, match="repeat labels: they cannot be paired on their labels"):
            spearman(repeated, pd.Series([4.0, 3.0, 2.0, 1.0], index=other))
