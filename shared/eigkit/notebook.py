"""What every notebook calls first: ``from eigkit.notebook import setup; setup()``.

It makes a notebook's outputs the same at every run, so that ``eig check`` (nbval) can compare them:
matplotlib draws inline SVG with a fixed hash salt and no date, pandas prints with pinned display options,
and the random generators start from a fixed seed. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import random
import sys

SVG_HASH_SALT = "eigkit"
DEFAULT_SEED = 0
PANDAS_OPTIONS = {
    "display.max_rows": 60,
    "display.min_rows": 10,
    "display.max_columns": 20,
    "display.max_colwidth": 50,
    "display.width": 100,
    "display.precision": 4,
    "display.show_dimensions": "truncate",
}


def setup(*, seed: int = DEFAULT_SEED, figure_format: str = "svg") -> None:
    """Make outputs deterministic: seeds, matplotlib (inline ``figure_format``, fixed salt), pandas display.

    ``seed`` seeds :mod:`random` and NumPy's global generator; draw from
    ``numpy.random.default_rng(seed)`` in new code.
    """
    random.seed(seed)
    _seed_numpy(seed)
    _setup_matplotlib(figure_format)
    _setup_pandas()


def _seed_numpy(seed: int) -> None:
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)


def _setup_matplotlib(figure_format: str) -> None:
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.rcParams["svg.hashsalt"] = SVG_HASH_SALT  # element ids stop being random
    matplotlib.rcParams["svg.fonttype"] = "path"  # text drawn as paths: no dependence on installed fonts
    matplotlib.rcParams["figure.dpi"] = 100
    if not _in_ipython_kernel():
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    metadata = {"Date": None} if figure_format == "svg" else {"Software": None}
    set_matplotlib_formats(figure_format, metadata=metadata)


def _in_ipython_kernel() -> bool:
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _setup_pandas() -> None:
    try:
        import pandas
    except ImportError:
        return
    for option, value in PANDAS_OPTIONS.items():
        pandas.set_option(option, value)
