"""Notebook parameters: read what a notebook declares, check values against it before any kernel starts,
and write the cell that hands them to the kernel.

A notebook declares its parameters in its first cell tagged ``parameters``, one assignment per parameter,
e.g. ``departement: str = "31"  # code du département``. The type comes from the annotation, else a
``# type: int`` comment, else the default's type. Values come from YAML files, ``-p name=value``, ``-y
name=yaml`` or Python. Text is parsed *by the declared type*, so the département code ``01`` stays ``"01"``
for a ``str`` parameter and becomes ``1`` only for an ``int`` one; a parameter with no type information gets
what ``papermill -p`` would give it (see :mod:`eigkit.runner.yaml_text`). Only JSON values (text, finite
numbers, booleans, null, lists and mappings of these) ever reach a notebook; anything else is refused with a
:class:`ParameterError` that names the notebook, the parameter and the expected type.

Secret parameters (see :mod:`eigkit.secrets`) are never accepted as values: the kernel reads them itself.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import re
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from eigkit import secrets
from eigkit.errors import ParameterError
from eigkit.runner.yaml_text import (
    CommandLine,
    Plain,
    load_file,
    load_text,
    resolve_command_line,
    resolve_plain,
)

_TRUE = {"true", "yes", "on", "vrai", "oui"}
_FALSE = {"false", "no", "off", "faux", "non"}
_NULL = {"null", "none", "~", ""}
_TYPE_COMMENT = re.compile(r"^type:\s*(?P<annotation>\S+)\s*(?P<help>.*)$")
_SECRET_COMMENT = re.compile(r"^secret\s*(?:$|[:\-–—]\s*)(?P<help>.*)$", re.IGNORECASE)
_SECRET_ANNOTATIONS = {
    "Secret",
    "secrets.Secret",
    "eigkit.secrets.Secret",
    "notebook.Secret",
    "eigkit.notebook.Secret",
}
JSON_TYPES = "text, a finite number, true/false, null, or a list or mapping of these"


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: name, annotation (``"str"``, ``"list[int]"``...), default, help, secret."""

    name: str
    annotation: str | None
    default: Any
    help: str = ""
    secret: bool = False
    default_source: str = ""

    @property
    def expected(self) -> str:
        """The type a value must have, as shown in error messages and by ``eig params``."""
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
    """Read the parameters a notebook declares (name -> :class:`Parameter`), in declaration order.

    The help is the comment of the declaration, wherever the formatter put it (``x: int = (  # help``),
    continued on the next comment lines aligned with it; a ``# type: T`` comment gives a type, a comment
    starting with ``secret`` (or the ``Secret`` annotation) makes the parameter secret.
    """
    path = Path(notebook_path)
    try:
        notebook = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise ParameterError(f"{path}: cannot read the notebook ({error}).") from None
    source = parameters_cell_source(notebook)
    if source is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ParameterError(f"{path.name}: the 'parameters' cell is not valid Python ({error}).") from None
    comments = _comments(source)
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
        shown = ast.get_source_segment(source, node.value) if node.value is not None else ""
        declared[name] = _parameter(
            name, annotation, default, _help(comments, node), " ".join((shown or "").split())
        )
    return declared


def _parameter(name: str, annotation: str | None, default: Any, comment: str, shown: str) -> Parameter:
    """A :class:`Parameter` from its declaration and comment (``type:`` and ``secret`` read off it)."""
    secret = annotation in _SECRET_ANNOTATIONS
    marker = _SECRET_COMMENT.match(comment)
    if marker:
        secret, comment = True, marker.group("help")
    typed = _TYPE_COMMENT.match(comment)
    if typed and annotation is None:
        annotation, comment = typed.group("annotation"), typed.group("help")
    if secret:
        annotation = "Secret"
    return Parameter(name, annotation, default, comment.strip(), secret, shown)


def _comments(source: str) -> dict[int, tuple[int, str, bool]]:
    """Map line number -> (column, text, whether the line holds nothing but the comment)."""
    found: dict[int, tuple[int, str, bool]] = {}
    lines = source.splitlines()
    try:
        for token in tokenize.generate_tokens(StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, column = token.start
                alone = not lines[row - 1][:column].strip()
                found[row] = (column, token.string.lstrip("#").strip(), alone)
    except (tokenize.TokenError, IndentationError):
        pass
    return found


def _help(comments: Mapping[int, tuple[int, str, bool]], node: ast.stmt) -> str:
    """The help text of one declaration: its comments, then the comment lines aligned under the last one."""
    end = node.end_lineno or node.lineno
    own = [(row, comments[row]) for row in range(node.lineno, end + 1) if row in comments]
    if not own:
        return ""
    parts = [text for _, (_, text, _) in own]
    row, (column, _, _) = own[-1]
    while (row + 1) in comments and comments[row + 1][2] and comments[row + 1][0] == column and column > 0:
        row += 1
        parts.append(comments[row][1])
    return " ".join(part for part in parts if part)


def convert(notebook: str, parameter: Parameter, value: Any) -> Any:
    """Return ``value`` converted to ``parameter``'s declared type, or raise :class:`ParameterError`.

    Text is parsed by the declared type (``"01"`` stays ``"01"`` for ``str``, becomes ``1`` for ``int``);
    other Python values must already have that type (an ``int`` is accepted where ``float`` is declared).
    With no type information, text is read as ``papermill -p`` reads it. The result is always a JSON value.
    """
    if parameter.secret:
        raise secret_given_error(notebook, parameter)
    try:
        return json_value(_convert(parameter.annotation or _annotation_of(parameter.default), value))
    except (TypeError, ValueError, ParameterError) as error:
        raise ParameterError(
            f"{notebook}: parameter '{parameter.name}' expects {parameter.expected}, got {_shown(value)} "
            f"({error})." + (f" Help: {parameter.help}" if parameter.help else "")
        ) from None


def _shown(value: Any) -> str:
    """A value as the user wrote it: text as text (not the marker class's repr)."""
    return repr(str(value)) if isinstance(value, str) else repr(value)


def secret_given_error(
    notebook: str, parameter: Parameter, workspace: Path | str | None = None
) -> ParameterError:
    """The error for a value given to a secret parameter on the command line or in a file."""
    return ParameterError(
        f"{notebook}: parameter '{parameter.name}' is secret and is never taken from the command line or a "
        f"params file: {secrets.where_to_put(parameter.name, workspace)}."
    )


def json_value(value: Any) -> Any:
    """``value`` as plain JSON data (str, int, finite float, bool, None, list, dict with text keys).

    Tuples become lists; anything else (a set, a date, NaN, an object) raises :class:`TypeError`.
    """
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{value} is not a finite number")
        return float(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("mapping keys must be text")
        return {str(key): json_value(item) for key, item in value.items()}
    raise TypeError(f"a {type(value).__name__} cannot be passed to a notebook; give {JSON_TYPES}")


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


def untyped(value: Any) -> Any:
    """A value for a parameter with no type information: ``-p`` text as papermill reads it, unquoted YAML
    by the YAML 1.2 core rules, quoted YAML and Python text as written; lists and mappings item by item."""
    if isinstance(value, CommandLine):
        return resolve_command_line(value)
    if isinstance(value, Plain):
        return resolve_plain(value)
    if isinstance(value, list | tuple):
        return [untyped(item) for item in value]
    if isinstance(value, Mapping):
        return {key: untyped(item) for key, item in value.items()}
    return value


def _convert(annotation: str | None, value: Any) -> Any:
    if annotation is None:
        return untyped(value)
    base, arguments, optional = _split_annotation(annotation)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in _NULL)):
        return None
    if base == "str":
        if isinstance(value, str):
            return str(value)
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
        mapping = untyped(load_text(value, "the text") if isinstance(value, str) else value)
        if not isinstance(mapping, Mapping):
            raise TypeError("not a mapping")
        return dict(mapping)
    return untyped(_parsed(value))  # an annotation the kit does not check: read as YAML, tags refused


def _parsed(value: Any) -> Any:
    """``-p`` text read as YAML (scalars stay text, see :mod:`eigkit.runner.yaml_text`); others as given."""
    if isinstance(value, CommandLine):
        return load_text(value, "the text")
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise TypeError("use true or false")


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = load_text(value, "the text")
        if isinstance(value, str):  # one scalar: comma-separated items
            value = [Plain(item.strip()) for item in value.split(",")] if value.strip() else []
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


def validate(
    notebook: str,
    declared: Mapping[str, Parameter],
    values: Mapping[str, Any],
    *,
    workspace: Path | str | None = None,
) -> dict[str, Any]:
    """Check ``values`` against a notebook's declared parameters; return them converted to their types.

    Secret parameters are refused as values; each one whose value the environment or ``workspace``'s
    ``.env`` holds is added as :class:`eigkit.secrets.Masked` (``***``): the kernel reads it itself.
    """
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in declared:
            raise unknown_parameter_error(notebook, name, declared)
        if declared[name].secret:
            raise secret_given_error(notebook, declared[name], workspace)
        checked[name] = convert(notebook, declared[name], value)
    for name, parameter in declared.items():
        if parameter.secret and secrets.lookup(name, workspace) is not None:
            checked[name] = secrets.Masked()
    return checked


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a command-line ``name=value`` into its name and its *text* value (parsed later by type)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ParameterError(f"-p {text!r}: write it as name=value, e.g. -p departement=01.")
    return name.strip(), CommandLine(value)


def parse_yaml_assignment(text: str) -> tuple[str, Any]:
    """Split a command-line ``-y name=yaml`` and read the value as YAML (``-y codes=['01', 2A]``).

    Like ``papermill -y``, but for one parameter; quoted scalars stay text and tags are refused.
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ParameterError(f"-y {text!r}: write it as name=yaml, e.g. -y \"codes=['01', 2A]\".")
    return name.strip(), load_text(value, f"-y {name.strip()}")


def load_yaml_text(path: Path | str) -> Any:
    """Load a YAML file keeping every scalar as text, so that values are parsed by the declared type."""
    return load_file(path)


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


def python_literal(value: Any) -> str:
    """Python source for a JSON value (see :func:`json_value`), built item by item: text through ``repr``
    of a plain ``str`` (quotes and escapes always right), numbers, booleans and None by name.

    Anything else raises :class:`TypeError`: no object's own ``str`` or ``repr`` ever reaches a notebook.
    """
    if value is None or type(value) is bool:
        return repr(value)
    if type(value) is str:
        return repr(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is list:
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if type(value) is dict and all(type(key) is str for key in value):
        return "{" + ", ".join(f"{key!r}: {python_literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} is not a parameter value the kit injects")


def injected_source(values: Mapping[str, Any], comment: str = "Parameters") -> str:
    """The source of the ``injected-parameters`` cell for ``values`` (names checked, values JSON).

    A secret (:class:`eigkit.secrets.Masked`) becomes a call that reads it from the environment when the
    cell runs: its value is never in the notebook.
    """
    lines = [f"# {comment}"]
    if any(isinstance(value, secrets.Masked) for value in values.values()):
        lines.append("from eigkit.secrets import read_secret as _eig_read_secret")
    for name, value in values.items():
        if not name.isidentifier():
            raise ParameterError(f"'{name}' is not a parameter name.")
        if isinstance(value, secrets.Masked):
            lines.append(f"{name} = _eig_read_secret({name!r})  # secret: {secrets.env_name(name)} or .env")
        else:
            lines.append(f"{name} = {python_literal(json_value(value))}")
    return "\n".join(lines) + "\n"


def use_kit_injection() -> None:
    """Make papermill write Python parameter cells with :func:`injected_source` in this process.

    papermill's own Python translator writes ``str(value)`` for types it does not know: a set built by a
    YAML tag became code. Registered for the ``python`` language, so every Python kernel gets the kit's cell.
    """
    from papermill.translators import PythonTranslator, papermill_translators

    class KitPythonTranslator(PythonTranslator):
        """papermill's Python translator, with the kit's cell source."""

        @classmethod
        def codify(cls, parameters: Mapping[str, Any], comment: str = "Parameters") -> str:
            return injected_source(parameters, comment)

    papermill_translators.register("python", KitPythonTranslator)


def check_kernel(name: str | None) -> None:
    """Refuse, before anything runs, a kernel that is not installed or is not a Python kernel."""
    if name is None:
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise ParameterError(
            f"--kernel {name}: no such Jupyter kernel (installed: {known}; `jupyter kernelspec list`)."
        ) from None
    if (spec.language or "").lower() != "python":
        raise ParameterError(
            f"--kernel {name}: a {spec.language} kernel; the kit writes parameters for Python kernels only."
        )
