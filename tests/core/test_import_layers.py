"""ftkit's packages form layers, not knots: no import cycle between ``ftkit.data`` and ``ftkit.estimation``,
and none among the modules of ``ftkit.evaluation``.

Imports are read from the source (nothing is imported), at module level and inside functions alike: a
function-level import still ties two modules together, it only defers the cost. ``TYPE_CHECKING``
imports count too, except the few back-references listed in ``ANNOTATION_ONLY``. The layers: ``ftkit.estimation`` (tokenizers, catalogs,
memory and cost models) is below ``ftkit.data`` (formats, validation, a dataset's token count),
which is below the providers; in ``ftkit.evaluation`` the typed results (``results``, with
``ComparisonRow``) are below ``harness`` and ``compare``, which are below the report renderers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "ftkit"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path, *, type_checking: bool = True) -> set[str]:
    found: set[str] = set()
    is_package = path.name == "__init__.py"

    def target(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join([*base, node.module] if node.module else base)

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not type_checking:
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in MODULES)
            elif isinstance(node, ast.ImportFrom):
                module = target(node)
                for alias in node.names:
                    # "from pkg import submodule" is an import of the submodule, not of pkg's __init__
                    if f"{module}.{alias.name}" in MODULES:
                        found.add(f"{module}.{alias.name}")
                    elif module in MODULES:
                        found.add(module)
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit([c for c in children if isinstance(c, ast.stmt | ast.ExceptHandler)])  # type: ignore[arg-type]
            if isinstance(node, ast.ExceptHandler):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
RUNTIME = {name: _imports(name, path, type_checking=False) for name, path in MODULES.items()}

#: Annotation-only imports allowed to point back up a layer: ``ComparisonReport.table()`` and
#: ``save_html()`` call the renderers, and the renderers annotate their argument as a ComparisonReport.
ANNOTATION_ONLY = {
    ("ftkit.evaluation.report_table", "ftkit.evaluation.compare"),
    ("ftkit.evaluation.report_html", "ftkit.evaluation.compare"),
    ("ftkit.evaluation.plots", "ftkit.evaluation.compare"),
}


def _cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    # Tarjan's strongly connected components; every component of more than one node is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            connect(v)
    return cycles


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_is_read_and_a_cycle_is_found():
    assert "ftkit.estimation.tokens" in GRAPH["ftkit.data.counting"]  # module level
    assert "ftkit.estimation.catalog" in GRAPH["ftkit.data._rules"]  # inside a function
    assert "ftkit.evaluation.stats" in GRAPH["ftkit.evaluation.harness"]  # from ftkit.evaluation import stats
    assert _cycles({"a", "b", "c"}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a", "b"}, {"a": {"b"}}) == []


def test_estimation_never_imports_data():
    offenders = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() if _package(m) == "ftkit.estimation"
                       for d in deps if _package(d) == "ftkit.data")
    assert not offenders, offenders


def test_data_and_estimation_have_no_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        edges.setdefault(_package(module), set()).update(_package(d) for d in deps if _package(d) != _package(module))
    cycles = _cycles({"ftkit.data", "ftkit.estimation"}, edges)
    assert not cycles, cycles


def test_evaluation_modules_have_no_cycle():
    nodes = {m for m in GRAPH if m.startswith("ftkit.evaluation.")}
    edges = {m: {d for d in deps if (m, d) not in ANNOTATION_ONLY} for m, deps in GRAPH.items()}
    assert not _cycles(nodes, edges), _cycles(nodes, edges)


def test_the_allowed_back_references_are_annotations_only():
    for module, target in ANNOTATION_ONLY:
        assert target in GRAPH[module], f"{module} no longer imports {target}: drop it from ANNOTATION_ONLY"
        assert target not in RUNTIME[module], f"{module} imports {target} at run time: an import cycle"
