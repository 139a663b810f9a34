"""Which of the workspace's own code files a notebook imports (read statically, before it runs).

A notebook's result depends on the helper modules it imports from the workspace (``import outils``,
``from src.indicateurs import taux``, ``%run scripts/prepare.py``). :func:`workspace_code` reads the
code cells with :mod:`ast`, resolves every imported module against the folders the kernel imports from (the
workspace root, which is the kernel's working directory, and ``src/`` when it exists), then follows the
imports of each module found, transitively. Package ``__init__.py`` files on the way count too.

Why statically rather than by watching the kernel: the answer is needed *before* the run, to decide whether
it may be reused, and it must hold for a kernel that is killed at the end (immediate shutdown leaves no
chance to report ``sys.modules``). An import guarded by a condition counts even when not taken, so the
answer errs on the side of re-running. Not seen: modules named by a computed string
(``importlib.import_module(name)``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

SKIPPED_FOLDERS = {".venv", "venv", "env", ".git", "runs", "reports", "data", "node_modules", ".tox"}
_MAGIC_RUN = re.compile(r"^\s*%run\s+(?:-\S+\s+)*([^\s;#]+\.py)\b", re.MULTILINE)
_MAGIC_LINE = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def code_cells(notebook: Path) -> list[str]:
    """The sources of a notebook's code cells."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    cells = document.get("cells", [])
    return ["".join(cell.get("source", "")) for cell in cells if cell.get("cell_type") == "code"]


def search_roots(workspace: Path) -> list[Path]:
    """The folders a kernel started at the workspace root imports the workspace's modules from."""
    return [folder for folder in (workspace, workspace / "src") if folder.is_dir()]


def _parse(source: str) -> ast.Module | None:
    """Parse Python source; IPython magics and shell lines are blanked first. ``None`` if still invalid."""
    for text in (source, _MAGIC_LINE.sub("", source)):
        try:
            return ast.parse(text)
        except SyntaxError:
            continue
    return None


def _imported_names(tree: ast.Module, package: str) -> set[str]:
    """Dotted module names a parsed module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            if base:
                names.add(base)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _module_files(name: str, roots: list[Path]) -> list[Path]:
    """The workspace files importing ``name`` executes (its packages' ``__init__.py`` included)."""
    parts = name.split(".")
    for root in roots:
        found: list[Path] = []
        for depth in range(1, len(parts) + 1):
            base = root.joinpath(*parts[:depth])
            if (base / "__init__.py").is_file():
                found.append(base / "__init__.py")
            elif base.with_suffix(".py").is_file() and depth == len(parts):
                found.append(base.with_suffix(".py"))
            elif not base.is_dir():  # not a package: the rest of the name is an attribute
                break
        if found:
            return found
    return []


def _inside_workspace(path: Path, workspace: Path) -> bool:
    relative = path.resolve().relative_to(workspace.resolve())
    return not any(part in SKIPPED_FOLDERS or part == "site-packages" for part in relative.parts[:-1])


def _package_of(path: Path, roots: list[Path]) -> str:
    for root in roots:
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                return ".".join(parts[:-1])
            return ".".join(parts[:-1])
    return ""


def workspace_code(workspace: Path, notebook: Path) -> dict[str, str]:
    """``{path relative to the workspace: sha256}`` of every workspace code file ``notebook`` imports."""
    workspace = workspace.resolve()
    roots = search_roots(workspace)
    pending: list[tuple[str, str]] = [(source, "") for source in code_cells(notebook)]
    seen: dict[Path, str] = {}
    while pending:
        source, package = pending.pop()
        scripts = [workspace / match for match in _MAGIC_RUN.findall(source)]
        tree = _parse(source)
        names = _imported_names(tree, package) if tree is not None else set()
        files = [file for name in sorted(names) for file in _module_files(name, roots)]
        for file in [*files, *(script for script in scripts if script.is_file())]:
            file = file.resolve()
            if file in seen or not file.is_relative_to(workspace) or not _inside_workspace(file, workspace):
                continue
            data = file.read_bytes()
            seen[file] = hashlib.sha256(data).hexdigest()
            pending.append((data.decode("utf-8", errors="replace"), _package_of(file, roots)))
    return {file.relative_to(workspace).as_posix(): digest for file, digest in sorted(seen.items())}
