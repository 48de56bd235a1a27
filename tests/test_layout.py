"""The house rules of the code: no import cycles between grader's modules.

The imports of grader's modules form a graph; a cycle in it means two modules that cannot be
understood, tested or moved one without the other. Two graphs are checked: the imports at each
module's top level (those that run when it is imported), and every import, the ones inside
functions too (the code defers imports to keep `grade --help` fast; a deferred cycle is still a
cycle). `if TYPE_CHECKING:` blocks never run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

from grader import config

PACKAGE = config.REPO_ROOT / "grader"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(config.REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "kit" not in path.parts}


def _imports(tree: ast.Module, *, top_level_only: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif not top_level_only:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        visit([item for item in inner if isinstance(item, ast.stmt)])
                        for item in inner:  # except handlers and match cases hold statements
                            if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                                visit(item.body)

    visit(tree.body)
    return found


def import_graph(*, top_level_only: bool) -> dict[str, set[str]]:
    """{module: the grader modules it imports}."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")), top_level_only=top_level_only):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
        graph[name] = {target for target in targets if target in known and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_grader_has_no_import_cycles():
    top_level, every = import_graph(top_level_only=True), import_graph(top_level_only=False)
    assert "grader.pipeline" in top_level and top_level["grader.pipeline"], "the graph should see pipeline's imports"
    # pipeline defers the report's import to the function that writes it: only the full graph sees it.
    assert "grader.report.html" in every["grader.pipeline"] - top_level["grader.pipeline"]
    assert cycles(top_level) == []
    assert cycles(every) == []


def _imported_modules(path: Path) -> set[str]:
    """Every module name `path` imports (absolute names; relative imports are not used here)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_checks_never_touch_keras_and_import_only_plain_data():
    allowed = ("grader.checks", "grader.core.facts", "grader.spec", "grader.core.text", "grader.train.modelconfig")
    for path in sorted((PACKAGE / "checks").glob("*.py")):
        for name in _imported_modules(path):
            assert name.split(".")[0] not in ("keras", "tensorflow", "jax", "torch"), f"{path.name} imports {name}"
            if name.startswith("grader"):
                assert name == "grader" or name.startswith(allowed) or name.rpartition(".")[0] in allowed, (
                    f"{path.name} imports {name}"
                )


def test_the_data_layer_stands_alone_and_nothing_imports_the_cli():
    graph = import_graph(top_level_only=False)
    for module, targets in graph.items():
        if module.startswith("grader.data"):
            assert {t for t in targets if not t.startswith("grader.data")} <= {"grader.config"}, module
        if not module.startswith("grader.cli"):
            assert not [t for t in targets if t.startswith("grader.cli")], module


def test_the_top_level_holds_packages_and_the_configuration():
    """docs/architecture.md: the folders tell the pipeline; a module loose at the top hides it."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "config.py"], loose
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    stages = {"spec", "submission", "data", "describe", "train", "measure", "checks", "report", "leaderboard"}
    assert stages <= packages, stages - packages
