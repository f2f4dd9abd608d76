"""The import graph of our own modules: no cycles, and dependencies point web/cli -> engine -> storage.

Every module under engine/, storage/, web/ and cli/ is parsed (not imported), and every import in it
counts, at module level or inside a function: a function-level import that closes a cycle is still
a cycle, only a deferred one."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("engine", "storage", "web", "cli")  # installed as yijianshi.<folder>


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["yijianshi", *parts])


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))
            if ".venv" not in p.parts and "node_modules" not in p.parts}


def _imported_names(path: Path, module: str, known: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Dotted names of the modules the module imports: `import a.b` gives a.b; `from a import b`
    gives a.b when that is one of the `known` modules, else a (b is a name defined in a)."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return names


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between our modules, every imported module name per module). Importing a.b.c also
    runs the __init__ of a and a.b, but that is no edge: a package's __init__ importing its own
    submodules is how packages work, not a cycle."""
    sources = _sources()
    known = set(sources)
    imported = {module: _imported_names(path, module, known) for module, path in sources.items()}
    edges = {module: {n for n in names if n in known and n != module} for module, names in imported.items()}
    return edges, imported


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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
    return found


def test_every_folder_has_modules():
    sources = _sources()
    for folder in FOLDERS:
        assert any(m.startswith(f"yijianshi.{folder}.") for m in sources), folder


def test_no_import_cycles_between_our_modules():
    edges, _ = _graph()
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _violations(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    _, imported = _graph()
    return sorted(f"{module} imports {name}" for module, names in imported.items() if module.startswith(prefix)
                  for name in names if any(name == f or name.startswith(f + ".") for f in forbidden)
                  or ("flask" in forbidden and name.split(".")[0].startswith("flask_")))


def test_engine_and_storage_never_import_flask_web_or_cli():
    forbidden = ("flask", "yijianshi.web", "yijianshi.cli")
    bad = _violations("yijianshi.engine", forbidden) + _violations("yijianshi.storage", forbidden)
    assert not bad, "\n".join(bad)


def test_storage_never_imports_engine():
    bad = _violations("yijianshi.storage", ("yijianshi.engine",))
    assert not bad, "\n".join(bad)


def test_the_rules_see_function_level_imports(tmp_path):
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from flask import g\n    from . import sibling\n")
    names = _imported_names(source, "yijianshi.engine.late", {"yijianshi.engine.sibling"})
    assert names == {"flask", "yijianshi.engine.sibling"}
