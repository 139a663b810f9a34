"""Parameters are read from the notebook and checked by declared type before any kernel starts."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from eigkit.cli import main
from eigkit.runner.execute import plan
from eigkit.runner.grid import expand_grid, load_grid
from eigkit.runner.params import (
    Parameter,
    ParameterError,
    declared_parameters,
    injected_source,
    load_yaml_text,
    parse_assignment,
    parse_yaml_assignment,
    python_literal,
    validate,
)
from param_notebooks import write_notebook
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


# --- values as the user wrote them (issue 10): papermill's reading when untyped, YAML as written, JSON only

UNTYPED_SOURCE = (
    "msg = None\n"
    "items = None\n"
    'label = "x"  # typed by its default: str\n'
    "count = None  # type: int  how many rows\n"
    "ratio: float = 0.5  # a share\n"
)


@pytest.fixture(scope="module")
def untyped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Parameter]:
    path = write_notebook(tmp_path_factory.mktemp("nb") / "untyped.ipynb", UNTYPED_SOURCE)
    return declared_parameters(path)


def _cli(declared: dict[str, Parameter], text: str) -> dict[str, object]:
    name, value = parse_assignment(text)
    return validate("untyped.ipynb", declared, {name: value})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("msg=NO", "NO"),  # YAML 1.1 said False
        ("msg=010", 10),  # YAML 1.1 said 8 (octal); papermill: int("010")
        ("msg=1:30", "1:30"),  # YAML 1.1 said 90 (sexagesimal)
        ("msg=Note: check this", "Note: check this"),  # YAML said a mapping
        ('msg="Hello"', '"Hello"'),  # YAML dropped the quotes; papermill keeps the text
        ("msg=@foo", "@foo"),  # YAML raised a ScannerError traceback
        ("msg=%x", "%x"),
        ("msg=`x", "`x"),
        ("msg=\tx", "\tx"),
        ("msg=True", True),
        ("msg=None", None),
        ("msg=2.5", 2.5),
        ("label=010", "010"),  # typed by its default
        ("label=NO", "NO"),
        ("count=010", 10),  # typed by its '# type:' comment
    ],
)
def test_untyped_command_line_values_are_read_as_papermill_reads_them(
    untyped: dict[str, Parameter], text: str, expected: object
) -> None:
    name = text.split("=")[0]
    value = _cli(untyped, text)[name]
    assert value == expected and type(value) is type(expected)


def test_type_comment_and_multi_line_help_are_read(untyped: dict[str, Parameter], tmp_path: Path) -> None:
    assert untyped["count"].annotation == "int" and untyped["count"].help == "how many rows"
    assert untyped["label"].annotation is None and untyped["label"].expected == "str"
    source = (
        "taille_bloc: int = (\n"
        "    2048  # accidents traités par bloc\n"
        ")\n"
        "seuil: float = 1.0  # distance sous laquelle un accident\n"
        "                    # est dit proche (km)\n"
        "# a note about the next one\n"
        "annee: int = 2020\n"
    )
    declared = declared_parameters(write_notebook(tmp_path / "help.ipynb", source))
    assert declared["taille_bloc"].help == "accidents traités par bloc"
    assert declared["seuil"].help == "distance sous laquelle un accident est dit proche (km)"
    assert declared["annee"].help == ""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("msg=nan", "not a finite number"),
        ("msg=inf", "not a finite number"),
        ("ratio=nan", "not a finite number"),
        ("ratio=-inf", "not a finite number"),
        ("count=12.5", "expects int"),
    ],
)
def test_values_that_json_cannot_hold_are_refused_naming_the_parameter(
    untyped: dict[str, Parameter], text: str, problem: str
) -> None:
    with pytest.raises(ParameterError, match=rf"untyped.ipynb: parameter '{text.split('=')[0]}'.*{problem}"):
        _cli(untyped, text)


@pytest.mark.parametrize(
    "value", [{"a", "b"}, datetime.date(2024, 1, 1), float("nan"), object(), {1: "x"}, [1, {2}]]
)
def test_python_values_that_are_not_json_are_refused(untyped: dict[str, Parameter], value: object) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'msg'"):
        validate("untyped.ipynb", untyped, {"msg": value})


def test_quoted_yaml_strings_stay_strings_in_a_params_file(
    untyped: dict[str, Parameter], tmp_path: Path
) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        'msg: "yes"\n'
        'items: ["01", "yes", "null", 01, yes, null, 0x10, !!str 0x10, 1:30]\n'
        "label: 2024-01-01\n",
        encoding="utf-8",
    )
    content = load_yaml_text(params)
    checked = validate("untyped.ipynb", untyped, content)
    assert checked == {
        "msg": "yes",
        "items": ["01", "yes", "null", 1, "yes", None, 16, "0x10", "1:30"],
        "label": "2024-01-01",
    }
    assert type(checked["msg"]) is str  # no marker class reaches the injected cell


def test_yaml_assignment_is_papermill_y_for_one_parameter(untyped: dict[str, Parameter]) -> None:
    name, value = parse_yaml_assignment("items=[01, '01', yes]")
    assert validate("untyped.ipynb", untyped, {name: value}) == {"items": [1, "01", "yes"]}
    with pytest.raises(ParameterError, match=r"-y items: not valid YAML \(line 1, column 1:"):
        parse_yaml_assignment("items=@x")
    with pytest.raises(ParameterError, match="write it as name=yaml"):
        parse_yaml_assignment("[1, 2]")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"annee: [2020\n", "not valid YAML (line 2, column 1"),
        (b"departement: @31\n", "not valid YAML (line 1, column 14"),
        (b"departement: !!timestamp 2024-01-01\n", "tag 'tag:yaml.org,2002:timestamp' is not accepted"),
        ("departement: '01' # département de l'Ain\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    ],
)
@pytest.mark.parametrize("option", ["--params", "--grid"])
def test_every_parse_error_of_a_file_is_exit_2_naming_it(
    two_notebooks: Path, option: str, content: bytes, problem: str
) -> None:
    bad = two_notebooks / "params" / "bad.yaml"
    bad.write_bytes(content)
    result = CliRunner().invoke(main, ["run", option, str(bad)], env={"EIG_WORKSPACE": str(two_notebooks)})
    assert result.exit_code == 2, result.output
    assert f"{bad}: " in result.stderr and problem in result.stderr
    assert "Traceback" not in result.output and not (two_notebooks / "runs").exists()


def test_a_missing_file_or_kernel_is_exit_2(two_notebooks: Path) -> None:
    env = {"EIG_WORKSPACE": str(two_notebooks)}
    result = CliRunner().invoke(main, ["run", "--params", "params/none.yaml"], env=env)
    assert result.exit_code == 2 and "params/none.yaml: cannot read the file" in result.stderr
    result = CliRunner().invoke(main, ["run", "-k", "no-such-kernel"], env=env)
    assert result.exit_code == 2 and "--kernel no-such-kernel: no such Jupyter kernel" in result.stderr
    assert "python3" in result.stderr and not (two_notebooks / "runs").exists()


@pytest.mark.parametrize(
    "value",
    [
        'a "quoted" \\ text',
        "'; import os; os.system('x'); '",
        '"""\nimport os\n"""',
        "\x00\n\r\t\u2028é",
        -0.0,
        1e300,
        2**80,
        [None, True, 1.5, {"k'\"": ["x\\"]}],
    ],
)
def test_python_literal_round_trips_and_never_runs_code(value: object) -> None:
    source = injected_source({"x": value})
    tree = ast.parse(source)
    assert [type(node) for node in tree.body] == [ast.Assign]
    assert ast.literal_eval(tree.body[0].value) == value


def test_injected_source_refuses_what_is_not_json() -> None:
    for value in ({"a"}, datetime.date(2024, 1, 1), float("inf")):
        with pytest.raises(TypeError):
            python_literal(value)


def test_eig_params_lists_type_default_and_wrapped_help(tmp_path: Path) -> None:
    source = (
        "from eigkit.secrets import Secret\n"
        "seuil: float = (\n    1.0  # distance sous laquelle un accident est dit proche\n)\n"
        "msg = None\n"
        "count = None  # type: int  nombre de lignes\n"
        'label = "x"  # un libellé\n'
        'jeton: Secret = ""  # jeton de l\'API\n'
    )
    path = write_notebook(tmp_path / "n.ipynb", source, names=["seuil"])
    result = CliRunner().invoke(main, ["params", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Parameters of n.ipynb:",
        "  seuil: float (default 1.0)",
        "      distance sous laquelle un accident est dit proche",
        "  msg: untyped (read as papermill -p reads it) (default None)",
        "  count: int (default None)",
        "      nombre de lignes",
        '  label: str (from the default) (default "x")',
        "      un libellé",
        "  jeton: secret (from $EIG_SECRET_JETON or the workspace's .env)",
        "      jeton de l'API",
    ]
