"""Secret notebook parameters: values read from the environment at run time, never written anywhere.

A notebook declares a parameter secret in its ``parameters`` cell, with the :class:`Secret` annotation or a
comment ``# secret`` (``# secret: help text``)::

    from eigkit.secrets import Secret

    jeton: Secret = ""  # jeton de l'API
    mot_de_passe = ""  # secret : mot de passe du service

Its value comes from the environment variable ``EIG_SECRET_<NAME>`` (``EIG_SECRET_JETON``), else from the
same line in the workspace's ``.env`` file (which git must ignore). It is never accepted on the command
line or in a params file. The injected cell holds ``jeton = read_secret('jeton')`` instead of the value, the
manifest records ``***``, and :func:`scrub` replaces the value by ``***`` in what a run wrote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from eigkit.errors import ParameterError

MASK = "***"
ENV_PREFIX = "EIG_SECRET_"
DOTENV = ".env"


class Secret(str):
    """A secret text: its ``repr`` (what a notebook cell displays) is ``'***'``; use it as any ``str``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


class Masked(str):
    """The value the run records for a secret parameter (``***``): the kernel reads the real one itself."""

    __slots__ = ()

    def __new__(cls) -> Masked:
        return super().__new__(cls, MASK)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (Masked, ())


def env_name(name: str) -> str:
    """The environment variable (and ``.env`` key) holding the secret parameter ``name``."""
    return f"{ENV_PREFIX}{name.upper()}"


def where_to_put(name: str, workspace: Path | str | None) -> str:
    """A sentence telling the user where a secret parameter's value goes."""
    dotenv = Path(workspace) / DOTENV if workspace else Path(DOTENV)
    return (
        f"set the environment variable {env_name(name)}, or write the line {env_name(name)}=... "
        f"in {dotenv} (ignored by git)"
    )


def lookup(name: str, workspace: Path | str | None = None) -> str | None:
    """The value of secret parameter ``name``: ``$EIG_SECRET_<NAME>``, else the workspace's ``.env``; or None.

    A ``.env`` that git does not ignore is refused (:class:`ParameterError`): it would be committed.
    """
    key = env_name(name)
    if os.environ.get(key):
        return os.environ[key]
    if workspace is None:
        return None
    dotenv = Path(workspace) / DOTENV
    if not dotenv.is_file():
        return None
    from dotenv import dotenv_values

    value = dotenv_values(dotenv, interpolate=False).get(key)
    if value:
        _require_ignored(dotenv.resolve())
    return value or None


def _require_ignored(dotenv: Path) -> None:
    """Refuse a ``.env`` inside a git repository that does not ignore it."""
    if _committable(dotenv):
        raise ParameterError(
            f"{dotenv} holds secrets but git does not ignore it: add the line '.env' to "
            f"{dotenv.parent / '.gitignore'} (and remove the file from git if it was committed)."
        )


@functools.lru_cache(maxsize=16)
def _committable(dotenv: Path) -> bool:
    """True when ``dotenv`` is in a git repository that does not ignore it (asked once per process)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(dotenv.parent), "check-ignore", "-q", dotenv.name],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False  # no git: nothing can commit the file
    return result.returncode == 1  # 0: ignored; 128: not a repository


def read_secret(name: str) -> Secret:
    """Read secret parameter ``name`` in a running notebook (the injected cell calls this).

    The workspace is ``$EIG_WORKSPACE`` (set by ``eig run``), else the current folder.
    """
    workspace = os.environ.get("EIG_WORKSPACE") or os.getcwd()
    value = lookup(name, workspace)
    if value is None:
        raise KeyError(f"secret parameter '{name}': {where_to_put(name, workspace)}")
    return Secret(value)


def secret_values(names: Iterable[str], workspace: Path | str | None) -> list[str]:
    """The current values of the secret parameters ``names`` (those that have one)."""
    found = (lookup(name, workspace) for name in names)
    return [value for value in found if value]


def masked_names(parameters: Mapping[str, object]) -> list[str]:
    """The names of the parameters a run received as secrets (recorded as :class:`Masked`)."""
    return [name for name, value in parameters.items() if isinstance(value, Masked)]


def scrub_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for value in values:
        if value:
            text = text.replace(value, MASK)
    return text


def _scrub_data(data: Any, values: list[str]) -> Any:
    """JSON data with the secret values masked in every string value (keys and structure untouched)."""
    if isinstance(data, str):
        return scrub_text(data, values)
    if isinstance(data, list):
        return [_scrub_data(item, values) for item in data]
    if isinstance(data, dict):
        return {key: _scrub_data(item, values) for key, item in data.items()}
    return data


def scrub(paths: Iterable[Path], values: Iterable[str]) -> None:
    """Replace every secret value by ``***`` in the files ``paths`` (missing files are skipped).

    A notebook (``.ipynb``) is masked string by string, so that no JSON key or structure can be hit; any
    other file (or a notebook cut short) as text.
    """
    values = [value for value in values if value]
    if not values:
        return
    from eigkit.atomic import write_text

    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if not any(value in text for value in values) and path.suffix != ".ipynb":
            continue
        cleaned = scrub_text(text, values)
        if path.suffix == ".ipynb":
            with contextlib.suppress(ValueError):  # a notebook cut short is masked as text
                masked = _scrub_data(json.loads(text), values)
                cleaned = json.dumps(masked, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if cleaned != text:
            write_text(path, cleaned)


def scrub_run(
    parameters: Mapping[str, object], workspace: Path | str | None, paths: Iterable[Path], outcome: dict
) -> None:
    """After a run: mask the values of its secret parameters in ``paths`` and in ``outcome``'s error."""
    values = secret_values(masked_names(parameters), workspace)
    if not values:
        return
    scrub(paths, values)
    if outcome.get("error"):
        outcome["error"] = {
            key: scrub_text(item, values) if isinstance(item, str) else item
            for key, item in outcome["error"].items()
        }
