"""One folder per audience: ``bnn`` imports no web-app code, the dashboard's model and figures no Streamlit.

Checked twice: each file's own import statements (which names the offending file), and a fresh
interpreter importing every module of the package (which also catches an import made through
another module).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = {
    "bnn": ("streamlit", "plotly", "dashboard"),
    "dashboard/model": ("streamlit", "plotly"),
    "dashboard/figures": ("streamlit",),
}


def imported_roots(path: Path) -> set[str]:
    """The top-level package of every module a file imports (relative imports excluded)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("folder", list(RULES))
def test_no_file_imports_a_forbidden_package(folder: str) -> None:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files, f"{folder} has no Python files"
    offending = {str(f.relative_to(REPO)): sorted(imported_roots(f) & set(RULES[folder])) for f in files}
    assert not {f: bad for f, bad in offending.items() if bad}


def test_imported_roots_sees_every_import_form(tmp_path: Path) -> None:
    # The check above is only as good as this parser: every way of writing an import counts.
    source = tmp_path / "m.py"
    source.write_text("import streamlit as st\nfrom plotly import graph_objects\nimport os, dashboard.model\n"
                      "from . import sibling\n")
    assert imported_roots(source) == {"streamlit", "plotly", "os", "dashboard"}


@pytest.mark.parametrize("folder", list(RULES))
def test_importing_every_module_loads_no_forbidden_package(folder: str) -> None:
    modules = sorted(".".join(f.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                     for f in (REPO / folder).rglob("*.py") if f.name != "__main__.py")
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(p for p in {RULES[folder]!r} if p in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
