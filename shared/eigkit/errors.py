"""The kit's one error family: every expected failure is an :class:`EigError` carrying its exit code.

The CLI maps them in one place (``eigkit.cli``): the message is printed, no traceback, and the process exits
with ``error.exit_code``. Anything else that escapes is a bug in the kit.
"""

from __future__ import annotations


class EigError(Exception):
    """An expected failure of the kit; the message says what went wrong and what to do next."""

    exit_code: int = 1


class DataError(EigError, ValueError):
    """A data file, a dataset name, a filter or a download was refused."""

    exit_code = 1


class ParameterError(EigError, ValueError):
    """A notebook parameter, a parameters file or a grid was refused before any kernel started."""

    exit_code = 2


class RunnerError(EigError, RuntimeError):
    """A run could not be prepared, carried out or recorded (workspace, folders, kernel, cluster)."""

    exit_code = 1


class WorkspaceError(EigError):
    """A workspace cannot be baked, checked or updated."""

    exit_code = 1
