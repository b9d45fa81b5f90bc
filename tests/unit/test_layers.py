"""The shape of `shared`, held from the code's own imports (read with `ast`, nothing executed).

Rules (the README's Architecture section draws them):

1. No import cycle anywhere in `shared`, `TYPE_CHECKING` imports included.
2. A module outside a sub-package imports it only through its `__init__`; the one exception is
   `shared.deps`, which opens the DynamoDB connection (`shared.lookup.dynamodb`).
3. `shared.lookup` never imports `shared.claims`, `shared.trigger`, `shared.invocation` or
   `shared.deps`.
4. Only the connection side (the connection, credentials, transport and codec modules) imports
   aiodynamo, yarl or an HTTP library (httptools, h11, aiohttp).
5. `tools/`, `bench/` and `tests/` use public names only: no `_private` name imported from
   another module, except by the tests of that very module.
"""

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.conftest import ROOT

SHARED: Final = ROOT / "shared"
SUB_PACKAGES: Final = ("shared.claims", "shared.lookup", "shared.tokens")
CONNECTION_OPENER: Final = ("shared.deps", "shared.lookup.dynamodb")
LOOKUP_NEVER: Final = ("shared.claims", "shared.trigger", "shared.invocation", "shared.deps")
HTTP_LIBRARIES: Final = ("aiohttp", "aiodynamo", "yarl", "httptools", "h11")
HTTP_MODULES: Final = frozenset(
    {
        "shared.lookup.dynamodb",
        "shared.lookup.credentials",
        "shared.lookup.transport",
        "shared.lookup.codec",
    }
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each import in `path`; name None for `import module`."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield base, alias.name


def shared_graph(root: Path = SHARED) -> dict[str, set[str]]:
    """Module -> the `shared` modules it imports (a `from package import module` counts)."""
    known = {module_name(p) for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        targets = graph.setdefault(module_name(path), set())
        for module, name in imports(path):
            if name is not None and f"{module}.{name}" in known:
                targets.add(f"{module}.{name}")
            elif module in known:
                targets.add(module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def sub_package_of(module: str) -> str | None:
    return next((p for p in SUB_PACKAGES if module == p or module.startswith(p + ".")), None)


def layer_problems(root: Path = SHARED) -> list[str]:
    """Every broken rule among rules 1-4, one line each."""
    graph = shared_graph(root)
    problems = []
    if cycle := find_cycle(graph):
        problems.append("import cycle: " + " -> ".join(cycle))
    for module, targets in sorted(graph.items()):
        home = sub_package_of(module)
        for target in sorted(targets):
            package = sub_package_of(target)
            inside = package is not None and package not in (target, home)
            if inside and (module, target) != CONNECTION_OPENER:
                problems.append(f"{module} imports {target}: go through {package}")
            if home == "shared.lookup" and any(
                target == never or target.startswith(never + ".") for never in LOOKUP_NEVER
            ):
                problems.append(f"{module} imports {target}: the lookup never does")
    for path in root.rglob("*.py"):
        module = module_name(path)
        for imported, _ in imports(path):
            if imported.split(".")[0] in HTTP_LIBRARIES and module not in HTTP_MODULES:
                problems.append(f"{module} imports {imported}: only the connection does")
    return problems


def private_import_problems() -> list[str]:
    """Rule 5: `_private` names imported across modules by tools, bench and tests."""
    problems = []
    for folder in ("tools", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            tested = path.stem.removeprefix("test_")
            for module, name in imports(path):
                private = name is not None and name.startswith("_") and name != "__version__"
                if not private or not module.startswith(("shared", "tools", "bench", "tests")):
                    continue
                if path.parent.name in ("unit", "integration") and module.rsplit(".", 1)[-1] in (
                    tested,
                    tested.split("_")[0],
                ):
                    continue  # the tests of that very module
                problems.append(f"{module_name(path)} imports `{name}` from {module}")
    return problems


def test_layers_hold_in_shared() -> None:
    assert layer_problems() == []


def test_layers_tools_bench_and_tests_use_public_names() -> None:
    assert private_import_problems() == []


# ---- the rules catch what they exist to catch: each violation, planted in a copy ----------


def _copy_shared(tmp_path: Path) -> Path:
    target = tmp_path / "shared"
    for path in SHARED.rglob("*.py"):
        copy = target / path.relative_to(SHARED)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("lookup/keys.py", "from shared.trigger import answer", "import cycle"),
        ("lookup/keys.py", "from shared.claims import Rules", "the lookup never does"),
        ("response.py", "from shared.claims.model import ClaimSet", "go through shared.claims"),
        ("trigger.py", "from shared.lookup.dynamodb import Connection", "go through shared.lookup"),
        ("claims/engine.py", "import aiohttp", "only the connection does"),
        ("lookup/profile.py", "from yarl import URL", "only the connection does"),
        ("lookup/store.py", "from httptools import HttpResponseParser", "only the connection does"),
        ("lookup/wire.py", "import h11", "only the connection does"),
    ],
)
def test_layers_refuse_a_planted_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, line: str, expected: str
) -> None:
    copy = _copy_shared(tmp_path)
    path = copy / module
    path.write_text(line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    problems = layer_problems(copy)
    assert any(expected in problem for problem in problems), problems
