"""The README stays a front page and the manual's pages, links and names stay real.

mkdocs itself runs in CI (`mkdocs build --strict` in .ci/run), not here; these checks are the
fast part: files, links and Python names.
"""

import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_README_LINES = 250


def _nav_pages(node) -> list[str]:
    """Every page file named in a mkdocs nav (nested lists of {title: page or list})."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def _config() -> dict:
    # mkdocs.yml uses no Python tags, so the plain YAML loader reads it.
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


NAV = _nav_pages(_config()["nav"])
PAGES = sorted(DOCS.rglob("*.md"))


def _fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


def test_the_readme_is_a_front_page():
    assert len(README.splitlines()) <= MAX_README_LINES


def test_the_readme_keeps_its_install_demo_and_test_commands():
    shell = [line.split("#")[0].strip() for block in _fenced_blocks(README, "bash")
             for line in block.splitlines()]
    assert 'pip install -e ".[testing]"' in shell
    assert "napari-cebra demo" in shell
    assert "pytest" in shell


def test_ci_runs_the_readme_test_command_and_builds_the_manual_strictly():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == "pytest"
    assert any(line.split("mkdocs build", 1)[-1].startswith(" --strict")
               for line in ci if "mkdocs build" in line)
    assert any('pip install' in line and '".[testing,bench,docs]"' in line for line in ci)


def test_the_nav_has_every_task_and_reference_page():
    assert len(NAV) >= 15
    for page in ("index.md", "getting-started.md", "cli.md", "CONTRACTS.md", "benchmarks.md"):
        assert page in NAV


@pytest.mark.parametrize("page", NAV)
def test_every_nav_page_exists(page):
    assert (DOCS / page).is_file(), f"mkdocs.yml's nav names docs/{page}, which does not exist"


def _relative_links(text: str) -> list[str]:
    """Targets of Markdown links and images that point into the repository."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # code blocks hold no links
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("source", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_relative_link_resolves(source):
    text = source.read_text(encoding="utf-8")
    missing = [t for t in _relative_links(text)
               if not (source.parent / t.split("#")[0]).exists()]
    assert not missing, f"{source.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_readme_links_into_the_manual():
    linked = {t.split("#")[0] for t in _relative_links(README)}
    for page in ("docs/getting-started.md", "docs/train.md", "docs/cli.md", "docs/python-api.md"):
        assert page in linked


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _python_names(text: str) -> set[str]:
    """`napari_cebra.…` names in inline code, and what the examples import from napari_cebra."""
    names = set(re.findall(r"`(napari_cebra(?:\.\w+)+)", text))
    for block in _fenced_blocks(text, "python"):
        for module, imported in re.findall(r"^from (napari_cebra[\w.]*) import ([\w, ]+)$",
                                           block, flags=re.M):
            names.update(f"{module}.{name.strip()}" for name in imported.split(","))
    return names


# docs/CONTRACTS.md has its own test (tests/test_contracts.py).
NAMES = sorted({name for page in PAGES if page.name != "CONTRACTS.md"
                for name in _python_names(page.read_text(encoding="utf-8"))})


def test_the_manual_names_enough_to_be_checked():
    assert len(NAMES) > 40


@pytest.mark.parametrize("dotted", NAMES)
def test_every_python_name_in_the_manual_exists(dotted):
    assert _resolve(dotted) is not None
