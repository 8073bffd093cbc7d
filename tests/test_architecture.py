"""The package's imports run one way: foundations <- engine <- evolution <- training <- estimators
<- analysis and figures <- course layer. Walks every module of ``setcourse/`` with ``ast``
(imports inside functions count too: a lazy import is still an arrow)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "setcourse"

# Each top-level part of the package and its layer: a module may import its own part or a
# part of a lower layer, never a higher one. A new module must be placed here on purpose.
LAYERS = {
    "__init__": 0, "_validation": 0, "_atomic": 0, "_threads": 0, "progress": 0,
    "data": 1,
    "nn": 2,
    "evolution": 3,
    "callbacks": 4, "train": 4, "plan": 5,
    "checkpoint": 5,
    "model": 6, "rbm": 6,
    "analysis": 7, "monitor": 7, "plots": 8,
    "sweep": 9, "parallel": 9, "reproduce": 10,
    "widgets": 11, "checks": 11, "course": 12, "cli": 13, "__main__": 14,
}
# The data layer knows no model: it may use only these parts besides itself.
DATA_MAY_IMPORT = {"__init__", "_validation", "_atomic"}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def part_of(name):
    """``setcourse.nn.kernels`` -> ``nn``; ``setcourse`` -> ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path):
    """Every setcourse module that ``path`` imports, at any depth of its code."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("setcourse"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("setcourse"):
                found.add(target)
                # ``from . import kernels`` imports a submodule
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    if _exists(candidate):
                        found.add(candidate)
    return found


def _exists(name):
    relative = Path(*name.split(".")[1:])
    return ((PACKAGE / relative).with_suffix(".py").exists()
            or (PACKAGE / relative / "__init__.py").exists())


def import_graph():
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_part_has_a_layer():
    unplaced = sorted({part_of(name) for name in import_graph()} - set(LAYERS))
    assert not unplaced, f"place these parts of setcourse in LAYERS: {unplaced}"


def test_no_import_against_the_direction():
    wrong = []
    for name, targets in import_graph().items():
        mine = part_of(name)
        for target in targets:
            theirs = part_of(target)
            if theirs == mine:
                continue
            if mine == "data" and theirs not in DATA_MAY_IMPORT:
                wrong.append(f"{name} -> {target} (data knows no model)")
            elif LAYERS.get(theirs, 99) > LAYERS.get(mine, 99):
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph = import_graph()
    # Importing a module imports its packages' __init__ too: an edge to each parent.
    for name in list(graph):
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in graph and parent != name:
                graph[name].add(parent)
    cycle = _find_cycle({name: {t for t in targets if t in graph and t != name}
                         for name, targets in graph.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _find_cycle(graph):
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    def is_own_submodule(source, target):
        return target.startswith(source + ".")

    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if is_own_submodule(node, target) or is_own_submodule(target, node):
                continue
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"a"}}, True),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"p": {"p.x"}, "p.x": {"p"}}, False),
])
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert (_find_cycle(graph) is not None) == cycle


def test_the_walk_sees_lazy_and_relative_imports(tmp_path):
    assert "setcourse.nn.kernels" in imports_of(PACKAGE / "nn" / "layers.py")
    assert any(t.startswith("setcourse.callbacks") for t in imports_of(PACKAGE / "train.py"))


def test_no_module_only_re_exports_another():
    """A module whose whole body is imports (and a docstring) adds a name, not a concept."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body
        body = [node for node in body if not (isinstance(node, ast.Expr)
                                              and isinstance(node.value, ast.Constant))]
        if body and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"modules that only re-export: {offenders}"
