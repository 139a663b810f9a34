"""What every notebook calls first: ``from eigkit.notebook import setup; setup()``.

It makes a notebook's outputs the same at every run, so that ``eig check`` (nbval) can compare them:
matplotlib draws inline SVG with a fixed hash salt and no date, pandas prints with pinned display options,
and the random generators start from a fixed seed. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import random
import sys
from typing import Any

__all__ = [
    "THIN_SPACE",
    "banner",
    "describe",
    "fmt_number",
    "fmt_percent",
    "french_axis",
    "optional_dataset",
    "setup",
    "show_figure",
    "summary",
    "table",
]

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
    import matplotlib.pyplot  # activates the inline backend first: activating it later resets the formats
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    metadata = {"Date": None} if figure_format == "svg" else {"Software": None}
    set_matplotlib_formats(figure_format, metadata=metadata)
    _describe_every_figure()


def _describe_every_figure() -> None:
    """Give every displayed figure a text alternative built from its titles and axes (:func:`describe`).

    The report shows it as the image's ``alt``; :func:`show_figure`'s explicit ``alt`` replaces it.
    """
    from IPython import get_ipython
    from matplotlib.figure import Figure

    for formatter in get_ipython().display_formatter.formatters.values():
        if getattr(formatter, "format_type", "") not in ("image/svg+xml", "image/png"):
            continue
        printer = formatter.lookup_by_type(Figure) if Figure in formatter.type_printers else None
        if printer is None:
            continue

        def described(fig: Any, printer: Any = printer) -> Any:
            data = printer(fig)
            return None if data is None else (data, {"alt": describe(fig)})

        formatter.for_type(Figure, described)


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


# --- French number formatting -------------------------------------------------------------------------

THIN_SPACE = "\u202f"  # narrow no-break space: thousands separator and space before "%" in French


def fmt_number(value: float | int | None, decimals: int = 0) -> str:
    """``12345.6`` -> ``"12 345,6"`` (narrow no-break space for thousands, decimal comma); NaN -> "–"."""
    if value is None or value != value:  # None or NaN
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", THIN_SPACE).replace(".", ",")


def fmt_percent(share: float | None, decimals: int = 1) -> str:
    """A share ``0.071`` -> ``"7,1 %"`` (a narrow no-break space before the sign)."""
    if share is None or share != share:
        return "–"
    return f"{fmt_number(share * 100, decimals)}{THIN_SPACE}%"


def french_axis(ax: Any, which: str = "y", decimals: int = 0, percent: bool = False) -> None:
    """Format the tick labels of ``ax``'s ``which`` axis ("x", "y" or "both") the French way.

    With ``percent=True`` the values are shares (0.25 -> "25 %").
    """
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _position: int) -> str:
        return fmt_percent(value, decimals) if percent else fmt_number(value, decimals)

    for axis in ("x", "y") if which == "both" else (which,):
        getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(label))


def table(frame: Any, decimals: int | dict[str, int] = 1, labels: dict[str, str] | None = None) -> Any:
    """A pandas Styler that shows ``frame`` the French way, with readable column ``labels``, no index.

    Numbers get a narrow no-break space for thousands and a decimal comma; ``decimals`` is one number or
    one per column. The table id is fixed, so the HTML is the same at every run (nbval compares it).
    """
    shown = frame.rename(columns=labels or {})
    per_column = decimals if isinstance(decimals, dict) else {}
    styler = shown.style.set_uuid("eig").hide(axis="index")
    for column in shown.columns:
        original = next((k for k, v in (labels or {}).items() if v == column), column)
        if _is_integer_column(shown[column]):
            styler = styler.format(lambda v: fmt_number(v, 0), subset=[column], na_rep="–")
        elif _is_float_column(shown[column]):
            places = per_column.get(original, decimals if isinstance(decimals, int) else 1)
            styler = styler.format(lambda v, p=places: fmt_number(v, p), subset=[column], na_rep="–")
    return styler


def _is_integer_column(column: Any) -> bool:
    import pandas

    return pandas.api.types.is_integer_dtype(column) and not pandas.api.types.is_bool_dtype(column)


def _is_float_column(column: Any) -> bool:
    import pandas

    return pandas.api.types.is_float_dtype(column)


# --- Figures: source line and alternative text ----------------------------------------------------------


def describe(fig: Any) -> str:
    """A text alternative for ``fig`` built from its titles and axis labels (French)."""
    parts = []
    if getattr(fig, "_suptitle", None) is not None and fig._suptitle.get_text():
        parts.append(fig._suptitle.get_text())
    for ax in fig.get_axes():
        bits = [ax.get_title()] if ax.get_title() else []
        if ax.get_xlabel():
            bits.append(f"abscisse : {ax.get_xlabel()}")
        if ax.get_ylabel():
            bits.append(f"ordonnée : {ax.get_ylabel()}")
        if bits:
            parts.append(", ".join(bits))
    return "Figure : " + " ; ".join(parts) if parts else "Figure sans titre"


def show_figure(fig: Any, source: str, alt: str | None = None) -> None:
    """Write ``source`` under ``fig``, display it with its alternative text, then close it.

    ``alt`` defaults to :func:`describe` (titles and axes); the report shows it as the image's ``alt``.
    """
    from IPython.display import display

    fig.text(0.01, 0.005, source, fontsize=7, color="#555555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    text = alt or describe(fig)
    metadata = {mime: {"alt": text} for mime in ("image/svg+xml", "image/png")}
    display(fig, metadata=metadata)
    import matplotlib.pyplot as plt

    plt.close(fig)


# --- The decision-maker layer: banner and computed summary at the top -----------------------------------

SUMMARY_DISPLAY_ID = "eig-summary"


def banner(source: str, parameters: dict[str, Any], sample: bool) -> None:
    """Show, at the top of a notebook, where the data come from and the parameters of this run.

    Then reserve the place of the summary that :func:`summary` fills at the end of the notebook.
    """
    from IPython.display import Markdown, display

    kind = "échantillon embarqué dans le kit (petit extrait réel)" if sample else "données complètes"
    shown = ", ".join(f"`{name}` = `{value!r}`" for name, value in parameters.items())
    display(Markdown(f"> **Données** : {source} — {kind}.  \n> **Paramètres** : {shown}"))
    display(
        Markdown("*Le résumé chiffré de ce run s'affiche ici à la fin de l'exécution.*"),
        display_id=SUMMARY_DISPLAY_ID,
    )


def summary(points: list[str]) -> None:
    """Fill the summary reserved by :func:`banner` ("À retenir", the key numbers of THIS run)."""
    from IPython.display import Markdown, update_display

    text = "## À retenir\n\n" + "\n".join(f"- {point}" for point in points)
    update_display(Markdown(text), display_id=SUMMARY_DISPLAY_ID)


def optional_dataset(name: str, **load_arguments: Any) -> tuple[Any, str | None]:
    """``data.load(name, **load_arguments)``, or ``(None, why)`` when the dataset cannot be loaded.

    For a denominator a notebook can do without (the INSEE population of ``"insee.population"``): the
    notebook shows counts and says why its rates are missing instead of failing.
    """
    from eigkit import data

    try:
        return data.load(name, **load_arguments), None
    except data.DataError as error:
        return None, f"{name} indisponible : {error}"
