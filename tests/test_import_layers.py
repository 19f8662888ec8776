"""The import graph keeps its layers: the engine depends on nothing above it, and the imaging
package has no circle (imports at the top of a module or inside its functions, both counted;
``open_stack`` reads .nwb files through the format ``imaging.nwb`` registers)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "napari_cebra"


def imports_of(path: Path, package: str) -> set[str]:
    """Every ``napari_cebra`` module ``path`` imports (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("napari_cebra")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("napari_cebra"):
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def test_the_engine_imports_nothing_above_it():
    above = ("analysis", "pipeline", "gui", "cli", "batch", "live", "imaging", "whole_path",
             "settings", "job_settings", "views")
    for path in sorted((SRC / "engine").glob("*.py")):
        bad = {m for m in imports_of(path, "napari_cebra.engine")
               if m.split(".")[1:2] and m.split(".")[1] in above}
        assert not bad, f"engine/{path.name} imports {sorted(bad)}"


def test_the_imaging_package_has_no_import_circle():
    modules = {p.stem: p for p in (SRC / "imaging").glob("*.py") if p.stem != "__init__"}
    graph = {name: {m.split(".")[2] for m in imports_of(path, "napari_cebra.imaging")
                    if m.startswith("napari_cebra.imaging.") and m.split(".")[2] in modules
                    and m.split(".")[2] != name}
             for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert not circles, f"imaging modules in an import circle: {circles}"
