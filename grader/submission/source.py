"""What a submission's source says about itself, read without running it (Python's ast).

The grader uses it to choose the Keras backend of the sandboxed child (grader/keras_support/backend.py
check_backend, describe_backend): the numpy backend imports fastest, but it must not change
what the learner is told. Every question here answers "not sure" the safe way, which only
costs the fast backend, never a wrong verdict.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import cast

BACKEND_LIBRARIES = frozenset({"tensorflow", "jax", "jaxlib", "flax", "torch"})
TRAINING_CALLS = frozenset({"fit", "fit_generator", "train_on_batch"})
# What the grader calls in a model challenge's file (grader/describe/sandbox/child.py).
CONTRACT = ("preprocess", "build_model", "make_callbacks")
# Names that reach other names without naming them: what they reach cannot be read.
DYNAMIC_NAMES = frozenset({"eval", "exec", "compile", "globals", "locals", "vars", "getattr", "__import__"})


class SourceReading:
    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.imported: dict[str, str] = {}  # alias -> top-level module ("" for a relative import), file-wide
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                self.imported.update({a.asname or a.name.split(".")[0]: a.name.split(".")[0] for a in node.names})
            elif isinstance(node, ast.ImportFrom):
                root = "" if node.level else (node.module or "").split(".")[0]
                self.imported.update({a.asname or a.name: root for a in node.names})
        self.functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        self.values: dict[str, list[ast.expr]] = {}  # module-level names bound by a plain assignment
        self.unknown: set[str] = set()  # module-level names bound any other way (a loop, a with, a tuple)
        for n in tree.body:
            if isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) for t in n.targets):
                for target in n.targets:
                    self.values.setdefault(cast(ast.Name, target).id, []).append(n.value)  # all Names: checked above
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None:
                self.values.setdefault(n.target.id, []).append(n.value)
            elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                self.unknown.update(
                    name.id for name in ast.walk(n) if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)
                )

    @classmethod
    def of(cls, source: str) -> SourceReading:
        return cls(ast.parse(source))  # SyntaxError, ValueError: the caller's to handle

    def reachable(self, roots: tuple[str, ...]) -> Iterator[tuple[ast.AST, str | None]]:
        """Every node of the module-level functions `roots`, and of the module-level functions,
        classes and values they name, transitively, each with the module-level name it is
        bound to when it is a name (None otherwise)."""
        pending: list[ast.AST] = [self.functions[name] for name in roots if name in self.functions]
        seen: set[str] = set(roots)
        while pending:
            for node in ast.walk(pending.pop()):
                name = node.id if isinstance(node, ast.Name) else None
                yield node, name
                if name is None or name in seen:
                    continue
                seen.add(name)
                if name in self.functions:
                    pending.append(self.functions[name])
                if name in self.classes:
                    pending.append(self.classes[name])
                pending.extend(self.values.get(name, []))

    def imports_a_backend(self) -> bool:
        """The file imports a backend library, or imports in a way a reader cannot follow."""
        if any(module in BACKEND_LIBRARIES for module in self.imported.values()):
            return True
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and (
                isinstance(node.func, ast.Name)
                and node.func.id in ("__import__", "exec")
                or isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                return True  # a computed import, or code in a string: cannot tell which
        return False

    def trains_at_top_level(self) -> bool:
        """A .fit(...) call that runs on import: outside functions, classes and `if __name__ == "__main__":`."""

        def main_guard(node: ast.AST) -> bool:
            return (
                isinstance(node, ast.If)
                and "__main__" in ast.unparse(node.test)
                and "__name__" in ast.unparse(node.test)
            )

        pending: list[ast.AST] = list(self.tree.body)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) or main_guard(node):
                continue
            if _is_training_call(node):
                return True
            pending.extend(ast.iter_child_nodes(node))
        return False

    def trains_when_called(self) -> bool:
        """A .fit(...) call in what the grader calls (build_model() training a model to return it),
        or in anything those functions use."""
        return any(_is_training_call(node) for node, _ in self.reachable(CONTRACT))

    def computes_with_only(self, function: str, modules: frozenset[str]) -> bool:
        """Whether `function`, and everything at module level it uses, names no module but
        `modules`. Unsure (no such function, a class, a loop's variable, a relative import, eval
        or getattr, which can reach any name): no."""
        if function not in self.functions:
            return False
        for _, name in self.reachable((function,)):
            if name is None:
                continue
            if name in self.unknown or name in self.classes or name in DYNAMIC_NAMES:
                return False
            if name in self.imported and self.imported[name] not in modules:
                return False
        return True


def _is_training_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TRAINING_CALLS
