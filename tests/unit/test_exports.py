"""Every `shared` module declares its public surface, and every declared name exists."""

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import ROOT

MODULES = sorted(p.stem for p in (ROOT / "shared").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_exports_match_public_definitions(name: str) -> None:
    module = importlib.import_module(f"shared.{name}")
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported), exported
    tree = ast.parse(Path(module.__file__ or "").read_text())
    public = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
    }
    assert public <= exported, f"not in __all__: {sorted(public - exported)}"


def test_shared_package_imports_nothing() -> None:
    # Importing one module must not import them all (every import is cold start).
    assert (ROOT / "shared" / "__init__.py").read_text().strip() == ""
