"""The package's import graph has no cycles (issue 16).

import-linter's layers contract (`make layers`) checks that packages import downward only; this test also
catches a cycle between two modules of one package, which a layers contract cannot see.
"""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("unmask", exclude_type_checking_imports=True)


def test_no_module_imports_itself_back(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported} -> ... -> {module}")
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


def test_the_package_never_imports_training_code(graph: grimp.ImportGraph) -> None:
    assert not [m for m in graph.modules if m.startswith("unmask_training")]
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            assert not imported.startswith("unmask_training"), f"{module} imports {imported}"


def test_no_module_imports_another_modules_private_names() -> None:
    """A leading underscore means "this module's own": the service's routers once reached into app's _service."""
    import ast
    from pathlib import Path

    import unmask

    root = Path(unmask.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("unmask"):
                found += [f"{path.relative_to(root)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, "\n".join(found)
