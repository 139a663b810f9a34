"""The papermill engine of ``eig run``: papermill's nbclient engine, plus the notebook executed so far.

papermill saves the executed notebook only when it ends normally or with a cell error (unless asked to save
after every cell, which costs a write per cell). When execution stops otherwise (a cell timeout, a dead
kernel, a kernel that is not installed, Ctrl-C or SIGTERM), this engine saves the notebook as it stands,
with papermill's per-cell metadata, to ``keep_partial_at`` before the exception goes on.
"""

from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine, papermill_engines

ENGINE = "eig"


class KeepPartialEngine(NBClientEngine):
    """nbclient execution that saves the notebook executed so far when execution stops on an exception."""

    @classmethod
    def execute_managed_notebook(
        cls, nb_man: Any, kernel_name: str, keep_partial_at: str | None = None, **kwargs: Any
    ) -> Any:
        """Execute ``nb_man``'s notebook; on any exception, have papermill save it at ``keep_partial_at``
        (papermill's ``notebook_complete``, which runs next, writes to the manager's output path)."""
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        except BaseException:
            if keep_partial_at and not nb_man.output_path:
                nb_man.output_path = keep_partial_at
            raise


papermill_engines.register(ENGINE, KeepPartialEngine)
