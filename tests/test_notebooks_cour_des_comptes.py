"""The cour-des-comptes kind: its notebook runs on the embedded publications, passes nbval and draws its
figures; its search returns the publications a hand-written query expects (checked against the loader's table
with an independent word match) and its evaluation metrics agree with the ranks it reports."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from eigkit import data
from notebook_kinds import (
    KindRun,
    figures,
    make_workspace,
    nbval_check,
    run_kind,
    text_outputs,
)

pytestmark = pytest.mark.slow
KIND = "cour-des-comptes"
NOTEBOOK = "01-recherche-publications"


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


def answer(workspace: Path) -> pd.DataFrame:
    return pd.read_csv(workspace / "data/processed/reponse.csv", dtype={"id": str}).set_index("rang")


def test_the_notebook_draws_its_figures(ran: KindRun):
    assert len(figures(ran.notebook(NOTEBOOK))) == 3


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_the_ci_question_finds_the_report_on_retired_aircraft_first(ran: KindRun, publications: pd.DataFrame):
    shown = answer(ran.workspace)
    # "avions" is not in the title ("aéronefs"): the full text, embedded for this référé, lifts it to the top
    best = publications[publications["id"] == shown.loc[1, "id"]].iloc[0]
    assert shown.loc[1, "id"] == "388355"
    assert "aéronefs retirés du service" in best["titre"]
    assert shown.loc[1, "score_texte"] > 0
    assert shown["score"].is_monotonic_decreasing
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


def test_the_evaluation_metrics_agree_with_the_ranks(ran: KindRun):
    evaluation = pd.read_csv(ran.workspace / "data/processed/evaluation.csv")
    assert len(evaluation) == 10
    ranks = evaluation["rang"]
    assert (evaluation["succes_1"] == (ranks == 1)).all()
    assert (evaluation["succes_5"] == (ranks <= 5)).all()
    expected_rr = (1 / ranks).round(3).fillna(0.0)
    pd.testing.assert_series_equal(evaluation["rr"], expected_rr, check_names=False)
    shown = re.search(r"^MRR\s+([0-9.]+)\s*$", text_outputs(ran.notebook(NOTEBOOK)), re.MULTILINE)
    assert shown is not None and float(shown.group(1)) == pytest.approx(evaluation["rr"].mean(), abs=5e-4)
    assert ranks.notna().sum() >= 5  # most hand-written questions find their publication in the top 10


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
    assert "precision_20" in pd.read_csv(workspace / "data/processed/evaluation.csv").columns
