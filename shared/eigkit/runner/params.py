"""Notebook parameters: read what a notebook declares, and check values against it before any kernel starts.

A notebook declares its parameters in its first cell tagged ``parameters``, one annotated assignment per
parameter, e.g. ``departement: str = "31"  # code du département``. Values come from YAML files, ``-p
name=value`` options or Python. Text (YAML scalars, command-line values) is parsed *by the declared type*,
so the département code ``01`` stays the string ``"01"`` for a ``str`` parameter and becomes ``1`` only
for an ``int`` one. A value that does not fit is refused with a :class:`ParameterError` that names the
notebook, the parameter and the expected type.
"""

from __future__ import annotations

import ast
import difflib
import json
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

from eigkit.errors import ParameterError

_TRUE = {"true", "yes", "on", "vrai", "oui"}
_FALSE = {"false", "no", "off", "faux", "non"}
_NULL = {"null", "none", "~", ""}


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: its name, annotation text (``"str"``, ``"list[int]"``...), default, help."""

    name: str
    annotation: str | None
    default: Any
    help: str = ""

    @property
    def expected(self) -> str:
        """The type a value must have, as shown in error messages."""
        if self.annotation:
            return self.annotation
        return type(self.default).__name__ if self.default is not None else "any"


def parameters_cell_source(notebook: dict[str, Any]) -> str | None:
    """Return the source of the first code cell tagged ``parameters`` (``None`` if there is none)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    return None


def declared_parameters(notebook_path: Path | str) -> dict[str, Parameter]:
    """Read the parameters a notebook declares (name -> :class:`Parameter`), in declaration order."""
    path = Path(notebook_path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ParameterError(f"{path}: cannot read the notebook ({error}).") from error
    source = parameters_cell_source(notebook)
    if source is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ParameterError(f"{path.name}: the 'parameters' cell is not valid Python ({error}).") from error
    comments = _line_comments(source)
    declared: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, annotation = node.target.id, ast.unparse(node.annotation)
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            name, annotation = node.targets[0].id, None
        else:
            continue
        try:
            default = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            default = None
        declared[name] = Parameter(name, annotation, default, comments.get(node.end_lineno or 0, ""))
    return declared


def _line_comments(source: str) -> dict[int, str]:
    """Map line number -> the text of the comment that ends that line."""
    found: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return found


def convert(notebook: str, parameter: Parameter, value: Any) -> Any:
    """Return ``value`` converted to ``parameter``'s declared type, or raise :class:`ParameterError`.

    Text is parsed by the declared type (``"01"`` stays ``"01"`` for ``str``, becomes ``1`` for ``int``);
    other Python values must already have that type (an ``int`` is accepted where ``float`` is declared).
    """
    try:
        return _convert(parameter.annotation or _annotation_of(parameter.default), value)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"{notebook}: parameter '{parameter.name}' expects {parameter.expected}, got {value!r} ({error})."
            + (f" Help: {parameter.help}" if parameter.help else "")
        ) from None


def _annotation_of(default: Any) -> str | None:
    """Infer an annotation from a default value when the notebook gives none."""
    if default is None:
        return None
    return type(default).__name__


def _split_annotation(annotation: str) -> tuple[str, list[str], bool]:
    """Split ``"list[int] | None"`` into base ``"list"``, arguments ``["int"]`` and optional ``True``."""
    try:
        node = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return annotation, [], False
    optional = False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        rest = [side for side in sides if not (isinstance(side, ast.Constant) and side.value is None)]
        optional = len(rest) == 1
        node = rest[0] if optional else node
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in {"Optional", "typing.Optional"}:
        optional, node = True, node.slice
    if isinstance(node, ast.Subscript):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return ast.unparse(node.value).lower(), [ast.unparse(item) for item in inner], optional
    return ast.unparse(node), [], optional


def _convert(annotation: str | None, value: Any) -> Any:
    if annotation is None:  # no annotation and no default to learn from: YAML's own reading of text
        return yaml.safe_load(value) if isinstance(value, str) else value
    base, arguments, optional = _split_annotation(annotation)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in _NULL)):
        return None
    if base == "str":
        if isinstance(value, str):
            return value
        raise TypeError("write it as text, in quotes: '01', '2A'")
    if base == "bool":
        return _to_bool(value)
    if base == "int":
        if isinstance(value, bool | float):
            raise TypeError("not an integer")
        return int(value.strip() if isinstance(value, str) else value)
    if base == "float":
        if isinstance(value, bool):
            raise TypeError("not a number")
        return float(value.strip() if isinstance(value, str) else value)
    if base in {"list", "tuple"}:
        items = _to_list(value)
        item_annotation = arguments[0] if arguments else None
        return [_convert(item_annotation, item) for item in items]
    if base == "dict":
        mapping = yaml.safe_load(value) if isinstance(value, str) else value
        if not isinstance(mapping, Mapping):
            raise TypeError("not a mapping")
        return dict(mapping)
    return yaml.safe_load(value) if isinstance(value, str) else value  # an annotation the kit does not check


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise TypeError("use true or false")


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = yaml.load(value, Loader=yaml.BaseLoader)  # keep the items as text: parsed by item type
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",")] if value.strip() else []
    if not isinstance(value, list | tuple):
        raise TypeError("not a list")
    return list(value)


def unknown_parameter_error(notebook: str, name: str, declared: Iterable[str]) -> ParameterError:
    """The error for a parameter name a notebook does not declare, with a "did you mean" when one is close."""
    declared = list(declared)
    close = difflib.get_close_matches(name, declared, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(declared) or "none"
    return ParameterError(f"{notebook}: unknown parameter '{name}'.{hint} Declared parameters: {listing}.")


def validate(notebook: str, declared: Mapping[str, Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``values`` against a notebook's declared parameters; return them converted to their types."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in declared:
            raise unknown_parameter_error(notebook, name, declared)
        checked[name] = convert(notebook, declared[name], value)
    return checked


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a command-line ``name=value`` into its name and its *text* value (parsed later by type)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ParameterError(f"-p {text!r}: write it as name=value, e.g. -p departement=01.")
    return name.strip(), value


def load_yaml_text(path: Path | str) -> Any:
    """Load a YAML file keeping every scalar as text, so that values are parsed by the declared type."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except OSError as error:
        raise ParameterError(f"{path}: cannot read the file ({error}).") from error
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({error}).") from error


def split_params_file(
    source: str, content: Any, declared: Mapping[str, Mapping[str, Parameter]]
) -> dict[str, dict[str, Any]]:
    """Apply the params-file rule; return notebook stem -> the raw values it receives.

    Top-level ``name: value`` pairs go to every notebook that declares ``name`` (a name declared by no
    notebook is an error); a top-level key equal to a notebook's stem whose value is a mapping holds values
    for that notebook only (checked against what that notebook declares).
    """
    if content in (None, ""):
        return {stem: {} for stem in declared}
    if not isinstance(content, Mapping):
        raise ParameterError(f"{source}: expected a mapping of parameter names to values.")
    per_notebook: dict[str, dict[str, Any]] = {stem: {} for stem in declared}
    every_name = {name for parameters in declared.values() for name in parameters}
    for key, value in content.items():
        if key in declared and isinstance(value, Mapping):
            for name, item in value.items():
                if name not in declared[key]:
                    raise unknown_parameter_error(f"{source} [{key}]", name, declared[key])
                per_notebook[key][name] = item
            continue
        if key not in every_name:
            raise unknown_parameter_error(f"{source}", key, sorted(every_name))
        for stem, parameters in declared.items():
            if key in parameters:
                per_notebook[stem].setdefault(key, value)
    return per_notebook
