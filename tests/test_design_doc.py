"""docs/design.md is the project's own map: it names every module, and citations of it hold."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "design.md").read_text()
CITATION = re.compile(r"docs/design\.md §(\d+)")


def test_the_module_map_names_exactly_the_modules_in_the_tree():
    tree = {str(p.relative_to(REPO)) for folder in ("vae", "ui", "pages")
            for p in (REPO / folder).glob("*.py")}
    named = set(re.findall(r"`((?:vae|ui|pages)/\w+\.py)`", DOC))
    assert not tree - named, f"modules missing from docs/design.md: {sorted(tree - named)}"
    assert not named - tree, f"docs/design.md names missing modules: {sorted(named - tree)}"


def test_every_citation_of_the_design_doc_points_at_a_section():
    sections = {int(n) for n in re.findall(r"^## (\d+)\. ", DOC, flags=re.M)}
    files = [REPO / "app.py", REPO / "README.md", REPO / ".streamlit" / "config.toml",
             *[p for folder in ("vae", "ui", "pages", "tests", "benchmarks")
               for p in (REPO / folder).rglob("*.py")]]
    cited = {(str(f.relative_to(REPO)), int(n)) for f in files
             for n in CITATION.findall(f.read_text())}
    assert cited, "no code cites docs/design.md"
    wrong = sorted((f, n) for f, n in cited if n not in sections)
    assert not wrong, f"citations of missing sections: {wrong}"


def test_nothing_cites_the_founders_notes_outside_the_repository():
    files = [p for folder in ("vae", "ui", "pages", "tests", "benchmarks")
             for p in (REPO / folder).rglob("*.py")] + [REPO / "app.py"]
    stale = [str(f.relative_to(REPO)) for f in files if re.search(r"DESIGN §\d", f.read_text())]
    assert not stale, f"cite docs/design.md instead of DESIGN: {stale}"
