"""The documentation cannot drift: every relative link of README.md and docs/ resolves, the README stays a
front door, and the algorithm reference is what the registry generates."""

import re
from pathlib import Path

from prefzoo.algorithms.framework.reference import reference_page
from prefzoo.registry import ALGORITHMS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # code is not a link
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_relative_link_resolves():
    broken = [f"{page.relative_to(ROOT)}: {target}" for page in PAGES for target in relative_links(page)
              if not (page.parent / target.split("#")[0]).exists()]
    assert len(PAGES) >= 10 and broken == []


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](missing.md) [b](https://example.org) [c](#here)\n```\n[d](nowhere.md)\n```\n")
    assert relative_links(page) == ["missing.md"]


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300


def test_the_algorithm_reference_is_generated_from_the_registry():
    committed = (ROOT / "docs" / "algorithms.md").read_text(encoding="utf-8")
    assert committed == reference_page(), "regenerate it: make docs"
    for name in ALGORITHMS.names():
        assert f"## `{name}` — " in committed
