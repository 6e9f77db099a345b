"""Print the app-level import graph of TradeX and whether it has a cycle.

Reads every first-party module (tests and migrations excluded) with `ast`, so nothing is imported
and no settings are needed. An edge A -> B means some module of package A imports package B. An
import is upward when B stands above A in the layers declared in .importlinter (import-linter
enforces them; this script prints the picture and the counts).

Imports inside functions are where cycles hide, so each one needs its reason written beside it: a
comment on its line or on the line above. Those without one are listed.

    python tools/import_graph.py            # edges, cycles, counts
    python tools/import_graph.py --detail   # also every cross-package and function-level import

Exits 1 when the graph has a cycle or an import inside a function has no reason beside it.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"tests", "migrations", "node_modules", ".venv", "bench", "tools", "docs", ".git", "var"}


def first_party_packages() -> list[str]:
    return sorted(
        p.name for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in SKIP_DIRS
    )


def modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        if SKIP_DIRS.intersection(path.relative_to(ROOT).parts[1:]):
            continue
        yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def declared_layers() -> dict[str, int]:
    """{package: level} of the layers contract, 0 at the bottom ({} without one). Siblings written
    "a | b" on one line share a level (independent of each other)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    for section in config.sections():
        if config[section].get("type") == "layers":
            lines = [line.strip() for line in config[section]["layers"].splitlines() if line.strip()]
            return {name.strip(): level for level, line in enumerate(reversed(lines)) for name in line.split("|")}
    return {}


def has_reason(lines: list[str], line: int) -> bool:
    """A comment on the import's line or the line above it."""
    return "#" in lines[line - 1] or lines[line - 2].strip().startswith("#")


def imported_names(path: Path):
    """Yield (imported module, line, is_function_level) for each import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = module_name(path)
    is_pkg = path.name == "__init__.py"

    def visit(node, nested: bool):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, nested
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = this.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                yield target, child.lineno, nested
            yield from visit(child, inner)

    yield from visit(tree, False)


def build():
    packages = first_party_packages()
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    function_level: list[str] = []
    unexplained: list[str] = []
    for package in packages:
        for path in modules(package):
            rel = path.relative_to(ROOT)
            lines = path.read_text().splitlines()
            for target, line, nested in imported_names(path):
                top = target.split(".")[0]
                if nested:
                    function_level.append(f"{rel}:{line} {target}")
                    if not has_reason(lines, line):
                        unexplained.append(f"{rel}:{line} {target}")
                if top not in packages:
                    continue
                if top != package:
                    edges[(package, top)].append(f"{rel}:{line} {target}{' (in function)' if nested else ''}")
    return packages, edges, function_level, unexplained


def strongly_connected(nodes, edges):
    """Tarjan's algorithm; returns the components with more than one node."""
    graph = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                out.append(sorted(component))

    for v in nodes:
        if v not in index:
            connect(v)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", action="store_true", help="list every cross-package import")
    args = parser.parse_args()
    packages, edges, function_level, unexplained = build()
    layers = declared_layers()

    print("app-level import graph (importer -> imported: number of import statements)")
    for package in packages:
        targets = sorted((b, len(v)) for (a, b), v in edges.items() if a == package)
        listed = ", ".join(f"{b} ({n})" for b, n in targets) or "-"
        print(f"  {package:14} -> {listed}")
    cycles = strongly_connected(packages, edges)
    upward = [(a, b, where) for (a, b), where in edges.items()
              if a in layers and b in layers and layers[b] > layers[a]]
    print(f"\ncross-package import statements: {sum(len(v) for v in edges.values())}")
    print(f"upward import statements (against .importlinter's layers): {sum(len(w) for _, _, w in upward)}")
    print(f"imports inside functions: {len(function_level)}, without a reason beside them: {len(unexplained)}")
    if cycles:
        for component in cycles:
            print(f"CYCLE: {' <-> '.join(component)}")
    else:
        print("no cycle: the packages form layers")
    if args.detail:
        for (a, b), where in sorted(edges.items()):
            print(f"\n{a} -> {b}")
            for line in where:
                print(f"    {line}")
        print("\nimports inside functions")
        for line in function_level:
            print(f"    {line}")
    for line in unexplained:
        print(f"NO REASON: {line}")
    return 1 if cycles or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
