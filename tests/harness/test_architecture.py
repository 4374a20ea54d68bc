"""The layers of the code as checked contracts: import-linter's contracts from pyproject.toml, and no import
cycle between any two modules, even through an import inside a function."""

import subprocess
import sys
from pathlib import Path

import grimp
import networkx  # torch's own dependency

ROOT = Path(__file__).resolve().parents[2]


def test_the_declared_layers_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"  # import-linter's command, in the test environment
    out = subprocess.run([str(lint_imports), "--no-cache", str(ROOT / "pyproject.toml")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def import_cycles(graph, modules: set[str]) -> list[list[str]]:
    """The groups of modules that import each other, directly or around a loop."""
    edges = networkx.DiGraph()
    edges.add_nodes_from(modules)
    edges.add_edges_from((m, i) for m in modules for i in graph.find_modules_directly_imported_by(m) & modules)
    return sorted(sorted(c) for c in networkx.strongly_connected_components(edges) if len(c) > 1)


def test_no_two_modules_import_each_other():
    graph = grimp.build_graph("prefzoo", cache_dir=None)  # imports inside functions count too
    modules = {m for m in graph.modules if not m.startswith("prefzoo.tests")}
    assert len(modules) > 100
    assert import_cycles(graph, modules) == []


def test_a_cycle_is_found():
    class Graph:
        imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.imports[module]

    assert import_cycles(Graph(), {"a", "b", "c", "d"}) == [["a", "b", "c"]]
