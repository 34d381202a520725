"""Who imports whom: publishing depends on roles and taxonomy only, and its own modules form no cycle.

Read from the source (every import, module level or inside a function), so a lazy import that
hides a cycle counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def imports_of(path: Path, package: str) -> set[str]:
    """The absolute names of the modules `path` (a module of `package`) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = package.split(".")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from . import staging` imports a module, not a name.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def modules(app: str) -> dict[str, set[str]]:
    """Every module of `app` (migrations aside) with what it imports."""
    graph = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if "migrations" in relative.parts:
            continue
        name = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
        package = name if relative.name == "__init__" else name.rsplit(".", 1)[0]
        graph[name] = imports_of(path, package)
    return graph


def top(name: str) -> str:
    return name.split(".", 1)[0]


def test_publishing_imports_neither_review_nor_api():
    wrong = {
        module: sorted(name for name in imported if top(name) in ("review", "api", "notifications"))
        for module, imported in modules("publishing").items()
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_api_reads_publishing_not_review():
    wrong = {
        module: sorted(name for name in imported if top(name) == "review")
        for module, imported in modules("api").items()
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_modules_of_publishing_form_no_cycle():
    graph = modules("publishing")
    edges = {module: {name for name in imported if name in graph and name != module} for module, imported in
             graph.items()}
    # A package's __init__ is imported with each of its modules: it is not an edge of its own.
    edges = {module: {name for name in targets if not module.startswith(name + ".")} for module, targets in
             edges.items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            assert state.get(target) != "open", f"import cycle: {' → '.join([*path, target])}"
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_the_format_writers_share_only_files_and_the_published_rule():
    graph = modules("publishing")
    for writer in ("publishing.formats.fixtures", "publishing.formats.csv", "publishing.formats.skos"):
        own = {name for name in graph[writer] if top(name) == "publishing" and name in graph}
        assert own <= {"publishing.files", "publishing.published"}, writer


def test_staging_knows_nothing_of_django_or_releases():
    imported = modules("publishing")["publishing.staging"]
    assert not {name for name in imported if top(name) in ("django", "publishing", "roles", "taxonomy")}
