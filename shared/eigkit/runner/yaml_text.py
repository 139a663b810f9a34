"""YAML as the user wrote it: parameter files, grids and ``-y`` values read without YAML's guesses.

PyYAML's usual loaders turn ``NO`` into ``False``, ``010`` into ``8``, ``1:30`` into ``90`` and build sets,
dates or Python objects from tags. Here every scalar stays text, and the text remembers how it was written:

- a scalar written without quotes is a :class:`Plain` (the notebook's declared type parses it later; with no
  declared type, :func:`resolve_plain` reads it by the YAML 1.2 core rules: ``true``, ``null``, numbers);
- a quoted or block scalar (``"yes"``, ``'01'``, ``|``) is a plain ``str``: it stays that text, always;
- an explicit tag other than ``!!str``, ``!!seq`` or ``!!map`` (``!!set``, ``!!timestamp``, ``!!python/...``)
  is refused.

A command-line ``-p name=value`` is a :class:`CommandLine` text: with no declared type it is read as
``papermill -p`` reads it (``True``/``False``/``None``, an int, a float, else the text itself).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from eigkit.errors import ParameterError

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")


class Plain(str):
    """A YAML scalar written without quotes: text whose type is decided by the notebook's declaration."""

    __slots__ = ()


class CommandLine(str):
    """The text of a command-line ``-p name=value``: read like ``papermill -p`` when no type is declared."""

    __slots__ = ()


class _TextLoader(yaml.BaseLoader):
    """Every scalar as text (:class:`Plain` when unquoted), sequences as lists, mappings as dicts; other tags
    are refused. A scalar with an explicit ``!!str`` tag counts as quoted text."""

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:  # type: ignore[override]
        event = self.peek_event()
        node = super().compose_scalar_node(anchor)
        if event.tag not in (None, "!"):
            node._explicit = True  # type: ignore[attr-defined]
        return node


def _scalar(loader: _TextLoader, node: yaml.ScalarNode) -> str:
    text = loader.construct_scalar(node)
    return Plain(text) if node.style is None and node.tag == _STR_TAG and not _explicit(node) else str(text)


def _explicit(node: yaml.Node) -> bool:
    """True when the node carried an explicit ``!!str`` tag (then it is text, as if quoted)."""
    return bool(getattr(node, "_explicit", False))


def _sequence(loader: _TextLoader, node: yaml.SequenceNode) -> list[Any]:
    return [loader.construct_object(child, deep=True) for child in node.value]


def _mapping(loader: _TextLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a name (text)", key_node.start_mark
            )
        mapping[str(key)] = loader.construct_object(value_node, deep=True)
    return mapping


def _refuse(loader: _TextLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the YAML tag {node.tag!r} is not accepted: write the value as text, a number, a list or a mapping",
        node.start_mark,
    )


_TextLoader.add_constructor(_STR_TAG, _scalar)
_TextLoader.add_constructor(_SEQ_TAG, _sequence)
_TextLoader.add_constructor(_MAP_TAG, _mapping)
_TextLoader.add_constructor(None, _refuse)


def load_text(text: str, source: str) -> Any:
    """Parse YAML ``text`` keeping scalars as text (see the module); ``source`` names it in errors."""
    try:
        return yaml.load(text, Loader=_TextLoader)  # a loader that builds no object
    except yaml.YAMLError as error:
        raise ParameterError(f"{source}: not valid YAML ({_describe(error)}).") from None


def _describe(error: yaml.YAMLError) -> str:
    """``line L, column C: problem`` for a YAML error (PyYAML's own text names a "<unicode string>")."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return " ".join(str(error).split())
    mark = error.problem_mark
    problem = " ".join(f"{error.context or ''} {error.problem or ''}".split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_file(path: Path | str) -> Any:
    """Read a YAML file of parameters or a grid (UTF-8), keeping scalars as text (see the module)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ParameterError(f"{path}: cannot read the file ({error.strerror or error}).") from None
    except UnicodeDecodeError as error:
        raise ParameterError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
            "save the file as UTF-8."
        ) from None
    return load_text(text, str(path))


def resolve_plain(text: str) -> Any:
    """An unquoted YAML scalar read by the YAML 1.2 core schema: null, true/false, int, float, else text.

    Unlike YAML 1.1 (PyYAML's default), ``yes``/``no``/``on``/``off`` stay text, ``010`` is 10 (not octal 8)
    and ``1:30`` stays text.
    """
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _SPECIAL_FLOAT.match(text):
        return float(text.replace(".", "", 1))  # refused later: not finite
    return str(text)


def resolve_command_line(text: str) -> Any:
    """A ``-p`` value read exactly as ``papermill -p`` reads it (papermill.cli._resolve_type)."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return str(text)
