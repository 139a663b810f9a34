"""The params files of the controle-fiscal and gendarmerie kinds are valid for their notebooks (names, types,
the CI on the embedded samples, the defaults on data.gouv.fr)."""

from __future__ import annotations

import pytest

from eigkit.runner.params import declared_parameters, load_yaml_text, split_params_file, validate
from notebook_kinds import kind_folder


@pytest.mark.parametrize("params", ["ci.yaml", "default.yaml"])
@pytest.mark.parametrize("kind", ["controle-fiscal", "gendarmerie"])
def test_params_files_are_valid_for_the_notebooks(kind: str, params: str):
    folder = kind_folder(kind)
    declared = {path.stem: declared_parameters(path) for path in sorted(folder.glob("*.ipynb"))}
    raw = split_params_file(params, load_yaml_text(folder / "params" / params), declared)
    values = {stem: validate(stem, declared[stem], raw[stem]) for stem in declared}
    expected = "sample" if params == "ci.yaml" else "remote"
    assert {value["source"] for value in values.values()} == {expected}
    for value in values.values():
        assert all(isinstance(code, str) for code in value.get("departements", []))
