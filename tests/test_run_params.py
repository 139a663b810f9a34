"""Parameters are read from the notebook and checked by declared type before any kernel starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from eigkit.cli import main
from eigkit.runner.execute import plan
from eigkit.runner.grid import expand_grid, load_grid
from eigkit.runner.params import ParameterError, declared_parameters, parse_assignment, validate
from test_run_workspace import NOTEBOOKS, make_workspace

DEMO = declared_parameters(NOTEBOOKS / "params_demo.ipynb")


def test_declared_parameters_keep_annotation_default_and_help() -> None:
    assert list(DEMO) == ["departement", "annee", "seuil", "detail", "codes"]
    assert DEMO["departement"].annotation == "str"
    assert DEMO["departement"].default == "31"
    assert DEMO["departement"].help.startswith("code du département")
    assert DEMO["codes"].annotation == "list[str]"
    assert DEMO["codes"].default == ["01", "2A"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("departement", "01", "01"),
        ("departement", "2A", "2A"),
        ("annee", "01", 1),
        ("annee", " 2023 ", 2023),
        ("seuil", "2", 2.0),
        ("detail", "true", True),
        ("detail", "non", False),
        ("codes", "01,2A", ["01", "2A"]),
        ("codes", "[01, 2A, 971]", ["01", "2A", "971"]),
    ],
)
def test_text_is_parsed_by_the_declared_type(name: str, text: str, expected: object) -> None:
    assert validate("demo.ipynb", DEMO, {name: text}) == {name: expected}


@pytest.mark.parametrize(
    ("name", "value", "expected_type"),
    [
        ("annee", "2A", "int"),
        ("annee", 2023.5, "int"),
        ("seuil", "beaucoup", "float"),
        ("detail", "2", "bool"),
        ("departement", 1, "str"),
        ("codes", 5, "list"),
    ],
)
def test_a_value_that_does_not_fit_names_notebook_parameter_and_type(
    name: str, value: object, expected_type: str
) -> None:
    with pytest.raises(ParameterError) as error:
        validate("demo.ipynb", DEMO, {name: value})
    message = str(error.value)
    assert "demo.ipynb" in message and f"'{name}'" in message and f"expects {expected_type}" in message


def test_unknown_name_suggests_the_closest_declared_one() -> None:
    with pytest.raises(ParameterError, match=r"demo.ipynb: unknown parameter 'departemnt'.*'departement'"):
        validate("demo.ipynb", DEMO, {"departemnt": "01"})


def test_parse_assignment_keeps_the_value_as_text() -> None:
    assert parse_assignment("departement=01") == ("departement", "01")
    assert parse_assignment("codes=a=b") == ("codes", "a=b")
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignment("departement")


def test_grid_is_a_cartesian_product_or_a_list_of_sets(tmp_path: Path) -> None:
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("departement: ['01', 2A]\nannee: [2022, 2023]\n")
    assert load_grid(grid_file) == [
        {"departement": "01", "annee": "2022"},
        {"departement": "01", "annee": "2023"},
        {"departement": "2A", "annee": "2022"},
        {"departement": "2A", "annee": "2023"},
    ]
    assert expand_grid([{"annee": "2022"}, {"annee": "2023", "seuil": "1"}]) == [
        {"annee": "2022"},
        {"annee": "2023", "seuil": "1"},
    ]
    with pytest.raises(ParameterError, match="'annee' must be a non-empty list"):
        expand_grid({"annee": "2022"})


@pytest.fixture(scope="module")
def two_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("ws"), {"01-demo": "params_demo", "02-fails": "fails"})


def _planned(root: Path, **kwargs: object) -> list[tuple[str, dict[str, object]]]:
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    return [(name, values) for _, name, values in plan(root, notebooks, **kwargs)]


def test_params_file_top_level_goes_to_declaring_notebooks_sections_to_one(two_notebooks: Path) -> None:
    params = two_notebooks / "params" / "mixed.yaml"
    params.write_text("departement: 01\n02-fails:\n  fail: false\n01-demo:\n  annee: 2021\n")
    assert _planned(two_notebooks, params=params) == [
        ("01-demo", {"departement": "01", "annee": 2021}),
        ("02-fails", {"fail": False}),
    ]
    params.write_text("02-fails:\n  departement: '01'\n")
    with pytest.raises(ParameterError, match=r"\[02-fails\]: unknown parameter 'departement'"):
        _planned(two_notebooks, params=params)
    params.write_text("fial: true\n")
    with pytest.raises(ParameterError, match=r"unknown parameter 'fial'. Did you mean 'fail'"):
        _planned(two_notebooks, params=params)


def test_grid_runs_get_distinct_names_and_other_notebooks_run_once(two_notebooks: Path) -> None:
    planned = _planned(two_notebooks, grid={"departement": ["01", "2A"]}, overrides={"annee": "2020"})
    assert planned == [
        ("01-demo--departement=01", {"departement": "01", "annee": 2020}),
        ("01-demo--departement=2A", {"departement": "2A", "annee": 2020}),
        ("02-fails", {}),
    ]


def test_cli_refuses_a_bad_value_with_exit_code_2_before_any_run(two_notebooks: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "-p", "annee=deux-mille"], env={"EIG_WORKSPACE": str(two_notebooks)}
    )
    assert result.exit_code == 2
    assert "01-demo.ipynb" in result.output and "'annee'" in result.output and "expects int" in result.output
    assert not (two_notebooks / "runs").exists()
    result = CliRunner().invoke(main, ["run", "-p", "anne=2020"], env={"EIG_WORKSPACE": str(two_notebooks)})
    assert result.exit_code == 2
    assert "Did you mean 'annee'" in result.output
