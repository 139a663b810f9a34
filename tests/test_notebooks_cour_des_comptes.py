"""The cour-des-comptes kind: its notebook runs on the embedded publications, passes nbval and draws its
figures; its search returns the publications a hand-written query expects (checked against the loader's
table with an independent word match), scores on comparable scales (each index divided by its maximum), and
its evaluation is honest: several expected publications per question, metrics that can reach 1, the text
weight of each question chosen on the OTHER questions (recomputed here from the per-weight ranks), a bootstrap
interval on the MRR (recomputed with scipy), a summary at the top equal to the tables."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eigkit import data
from notebook_kinds import KindRun, figures, make_workspace, nbval_check, run_kind
from report_checks import numbers_after, small_counts, summary_text

pytestmark = pytest.mark.slow
KIND = "cour-des-comptes"
NOTEBOOK = "01-recherche-publications"
NO_COUNTS = {r".*\.csv": []}  # scores, ranks and quality measures of public documents: no count of people


@pytest.fixture(scope="module")
def publications() -> pd.DataFrame:
    return data.load("ccomptes.publications", source="sample")


def words(text: object) -> set[str]:
    """Lower-case words without accents."""
    folded = unicodedata.normalize("NFKD", str(text).lower())
    return set(re.findall(r"[a-z0-9]+", "".join(c for c in folded if not unicodedata.combining(c))))


def titles_containing(publications: pd.DataFrame, wanted: set[str]) -> set[str]:
    """Ids of the publications whose title or type holds one of ``wanted``."""
    metadata = publications[publications["fichier"] == "metadonnees.csv"]
    return {
        str(identifier)
        for identifier, title, kind in zip(metadata["id"], metadata["titre"], metadata["type"], strict=True)
        if words(f"{title} {kind}") & wanted
    }


def processed(workspace: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(workspace / "data" / "processed" / name, dtype={"id": str})


def answer(workspace: Path) -> pd.DataFrame:
    return processed(workspace, "reponse.csv").set_index("rang")


def best_weight(per_weight: pd.DataFrame, questions: list[str]) -> float:
    """The weight with the best mean reciprocal rank on ``questions``; the smallest on a tie."""
    mrr = per_weight[per_weight["question"].isin(questions)].groupby("poids")["rr"].mean()
    return float(mrr[np.isclose(mrr, mrr.max())].index.min())


def test_the_notebook_draws_its_figures(ran: KindRun):
    assert len(figures(ran.notebook(NOTEBOOK))) == 3


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_the_ci_question_finds_the_report_on_retired_aircraft_first(ran: KindRun, publications: pd.DataFrame):
    shown = answer(ran.workspace)
    # "avions" is not in the title ("aéronefs"): the full text, embedded for this référé, adds to its score
    best = publications[publications["id"] == shown.loc[1, "id"]].iloc[0]
    assert shown.loc[1, "id"] == "388355"
    assert "aéronefs retirés du service" in best["titre"]
    assert shown["score"].is_monotonic_decreasing
    assert (shown["score"] - shown["score_titre"] - shown["score_texte"]).abs().max() < 2e-4
    # comparable scales: each index's scores divided by their maximum, so the best title scores 1
    assert shown["score_titre"].max() == 1.0
    weight = best_weight(
        processed(ran.workspace, "rr_par_poids.csv"),
        list(processed(ran.workspace, "evaluation.csv")["question"]),
    )
    assert shown["score_texte"].max() <= weight + 1e-9
    assert (shown.loc[1, "score_texte"] > 0) == (weight > 0)
    question = {"demantelement", "avions", "militaires", "retires", "service"}
    texts = publications[publications["fichier"] != "metadonnees.csv"]
    text_words = {
        frozenset(words(title)): words(text)
        for title, text in zip(texts["titre"], texts["texte"], strict=True)
    }
    titles = publications.drop_duplicates("id").set_index("id")["titre"]
    in_titles = titles_containing(publications, question)
    for row in shown.itertuples():
        in_text = bool(text_words.get(frozenset(words(titles[row.id])), set()) & question)
        assert row.id in in_titles or in_text, row
        assert row.score_texte == 0 or in_text, row


def test_the_weight_of_each_question_is_chosen_on_the_other_questions(ran: KindRun):
    evaluation = processed(ran.workspace, "evaluation.csv").set_index("question")
    per_weight = processed(ran.workspace, "rr_par_poids.csv")
    questions = list(evaluation.index)
    assert sorted(set(per_weight["question"])) == sorted(questions)
    for question in questions:
        chosen = best_weight(per_weight, [other for other in questions if other != question])
        assert evaluation.loc[question, "poids_choisi"] == chosen, question
        own = per_weight[(per_weight["question"] == question) & np.isclose(per_weight["poids"], chosen)]
        assert evaluation.loc[question, "rr"] == pytest.approx(own["rr"].iloc[0], abs=5e-5), question


def test_the_evaluation_metrics_can_reach_1_and_agree_with_the_ranks(ran: KindRun):
    evaluation = processed(ran.workspace, "evaluation.csv")
    assert len(evaluation) >= 15
    assert (evaluation["attendues"] > 1).sum() >= 6  # several relevant publications where they exist
    ranks = evaluation["rang"]
    assert (evaluation["succes_1"] == (ranks == 1)).all()
    pd.testing.assert_series_equal(evaluation["rr"], (1 / ranks).round(4).fillna(0.0), check_names=False)
    for column in ("rappel_10", "ndcg_10"):
        assert evaluation[column].between(0, 1).all()
        assert evaluation[column].max() == 1.0  # unlike precision@10 with one expected answer (at most 0.1)
    single = evaluation[evaluation["attendues"] == 1]
    assert (single["rappel_10"] == ranks[single.index].notna().astype(float)).all()
    expected_ndcg = (1 / np.log2(ranks[single.index].astype(float) + 1)).fillna(0.0).round(4)
    pd.testing.assert_series_equal(single["ndcg_10"], expected_ndcg, check_names=False)


def test_the_mrr_has_a_bootstrap_interval_and_the_summary_shows_the_tables(ran: KindRun):
    evaluation = processed(ran.workspace, "evaluation.csv")
    summary_table = processed(ran.workspace, "synthese.csv").set_index("mesure")
    rr = evaluation["rr"].to_numpy()
    reference = stats.bootstrap(
        (rr,), np.mean, confidence_level=0.95, n_resamples=2000, method="percentile",
        random_state=np.random.default_rng(0), vectorized=False,
    ).confidence_interval  # fmt: skip
    mrr = summary_table.loc["MRR"]
    assert mrr["valeur"] == pytest.approx(rr.mean())
    assert (mrr["ic95_bas"], mrr["ic95_haut"]) == (
        pytest.approx(reference.low),
        pytest.approx(reference.high),
    )
    assert mrr["ic95_bas"] < mrr["valeur"] < mrr["ic95_haut"]
    summary = summary_text(ran.notebook(NOTEBOOK))
    assert numbers_after(summary, r"validation croisée : \*\*") == [round(rr.mean(), 3)]
    assert numbers_after(summary, r"\(IC 95 %") == [round(reference.low, 3)]
    assert numbers_after(summary, "–")[0] == round(reference.high, 3)
    assert numbers_after(summary, "Rappel@10 moyen") == [round(evaluation["rappel_10"].mean(), 3)]


def test_no_export_holds_a_count(ran: KindRun):
    assert small_counts(ran.workspace / "data" / "processed", NO_COUNTS) == []


def test_a_hand_written_question_returns_the_publications_holding_its_words(
    tmp_path: Path, publications: pd.DataFrame
):
    workspace = make_workspace(KIND, tmp_path)
    overrides = {"question": "le logement des douaniers", "k": 20, "poids_texte": 0.0}
    run_kind(KIND, workspace, overrides=overrides)
    shown = answer(workspace)
    expected = titles_containing(publications, {"logement", "douaniers"})
    assert len(expected) >= 2
    assert set(shown["id"]) == expected
    douaniers = publications.loc[publications["titre"].str.contains("douaniers", na=False), "id"]
    assert shown.loc[1, "id"] == douaniers.iloc[0]  # the only title holding both words comes first
    assert (shown["score_texte"] == 0).all()  # poids_texte = 0: the full texts no longer count
    columns = processed(workspace, "evaluation.csv").columns
    assert {"rappel_20", "ndcg_20"} <= set(columns) and "precision_20" not in columns
