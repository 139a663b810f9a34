"""The allowed import directions of docs/ARCHITECTURE.md, checked on every module's source (module-level AND
function-level imports, parsed with ast): cli -> workspace, runner, data; runner -> data only for the lock
entries (``eigkit.data.lock``); data -> nothing of the kit but paths, errors, atomic; nothing imports the cli;
and no import cycle inside the data layer."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "shared" / "eigkit"
#: what the data layer may use of the kit: where things are, the error family, atomic writes
DATA_FOUNDATIONS = ("eigkit.paths", "eigkit.errors", "eigkit.atomic")
#: the kit's top-level modules (``eigkit/<name>.py``: paths, errors, atomic, settings...) and the package's
#: version: what the cli and the runner may use besides the layers their arrows point to
FOUNDATIONS = ("eigkit", *(f"eigkit.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"))
ALLOWED = {
    "cli": ("eigkit.cli", "eigkit.workspace", "eigkit.runner", "eigkit.data", *FOUNDATIONS),
    "runner": ("eigkit.runner", "eigkit.data.lock", *FOUNDATIONS),
    "data": ("eigkit.data", *DATA_FOUNDATIONS),
}


def module_name(path: Path) -> str:
    """``shared/eigkit/data/cache.py`` -> ``eigkit.data.cache`` (a package's ``__init__`` -> the package)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kit_imports(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every ``eigkit`` module ``source`` imports, at module level or inside functions (relative imports
    resolved; ``from eigkit.data import cache`` gives ``eigkit.data.cache``)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            modules = {f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")}
            found.update(modules)
            if len(modules) < len(node.names):  # some names are functions or classes of ``base`` itself
                found.add(base)
    return {name for name in found if name == "eigkit" or name.startswith("eigkit.")}


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    """``name`` is one of ``prefixes`` or inside one (the bare package ``eigkit`` only matches itself)."""
    return any(
        name == prefix or (prefix != "eigkit" and name.startswith(prefix + ".")) for prefix in prefixes
    )


def violations(module: str, imported: set[str]) -> list[str]:
    """The imports of ``module`` that break the allowed directions."""
    layer = module.split(".")[1] if module.count(".") else ""
    broken = [name for name in imported if _within(name, ("eigkit.cli",)) and layer != "cli"]
    if layer in ALLOWED:
        broken += [name for name in imported if not _within(name, ALLOWED[layer]) and name not in broken]
    return sorted(broken)


def kit_modules() -> dict[str, tuple[Path, bool]]:
    return {module_name(path): (path, path.name == "__init__.py") for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str) -> set[str]:
    path, is_package = kit_modules()[module]
    return kit_imports(path.read_text(encoding="utf-8"), module, is_package=is_package)


def test_every_module_imports_in_the_allowed_directions():
    broken = {module: violations(module, imports_of(module)) for module in kit_modules()}
    assert {module: names for module, names in broken.items() if names} == {}


def test_the_data_layer_has_no_import_cycle():
    data = [module for module in kit_modules() if _within(module, ("eigkit.data",))]
    graph = {
        module: {name for name in imports_of(module) if name in data and name != module} for module in data
    }
    graph["eigkit.data"] = set()  # the package's own __init__ re-exports; its modules never import it back
    for module, names in graph.items():
        assert "eigkit.data" not in names or module == "eigkit.data", f"{module} imports the package facade"
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "eigkit.data.cache",
            "def f():\n    from eigkit.runner import manifest\n",
            ["eigkit.runner.manifest"],
        ),
        ("eigkit.data.cache", "from eigkit.workspace.bake import new\n", ["eigkit.workspace.bake"]),
        ("eigkit.data.cache", "from ..cli import main\n", ["eigkit.cli"]),
        (
            "eigkit.runner.execute",
            "from eigkit.data import cache, load\n",
            ["eigkit.data", "eigkit.data.cache"],
        ),
        ("eigkit.runner.execute", "from eigkit.data import lock\nfrom eigkit import paths\n", []),
        ("eigkit.runner.execute", "from eigkit.errors import RunnerError\n", []),
        ("eigkit.data.loading", "from eigkit.notebook import setup\n", ["eigkit.notebook"]),
        ("eigkit.workspace.bake", "import eigkit.cli.data_commands\n", ["eigkit.cli.data_commands"]),
        ("eigkit.cli.data_commands", "def f():\n    from eigkit import data\n", []),
        (
            "eigkit.data.loading",
            "from eigkit.data import cache, remote\nfrom eigkit.errors import DataError\n",
            [],
        ),
    ],
)
def test_the_checker_sees_every_kind_of_import(module, source, expected):
    """The check itself: a forbidden import is found at module level, inside a function and as a relative
    import; allowed ones pass."""
    assert violations(module, kit_imports(source, module)) == expected
