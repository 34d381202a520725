"""The README and docs/ stay true: short front door, working links, real commands, no history, a sample card.

These read files only; none of them needs the database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import get_commands

from roles.cards import CardSyntaxError, parse_card

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
CARDS = ROOT / "fixtures" / "cards"
README_MAX_LINES = 170

# Fenced blocks and inline code are examples, not links (a pandas line holds `[...](` too).
FENCE_RE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE_RE = re.compile(r"`[^`\n]*`")
LINK_RE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC_RE = re.compile(r"""\b(?:src|href)=["']([^"']+)["']""")
# Commands are named in code too, so these read the whole text.
COMMAND_RES = (
    re.compile(r"\bmanage\.py\s+([a-z][a-z0-9_]*)"),
    re.compile(r"\bframework\.serve\s+manage\s+([a-z][a-z0-9_]*)"),
)

# What the history rule looks for, and where: the project's own text files.
HISTORY_RES = (re.compile(r"\bissues?\s+#?\d", re.IGNORECASE), re.compile(r"\bclosing\s+note", re.IGNORECASE))
TEXT_SUFFIXES = {".py", ".md", ".html", ".js", ".css", ".toml", ".yaml", ".yml"}
TEXT_NAMES = {"Makefile"}
# Dependencies, git, caches and build output: not the project's text (dot-folders are skipped too).
SKIPPED_DIRS = {"node_modules", "staticfiles", "screenshots", "var", "release", "releases", "test-results",
                "__pycache__"}


def _documents() -> list[Path]:
    return [README, *DOCS]


def _links(path: Path) -> list[str]:
    text = INLINE_CODE_RE.sub("", FENCE_RE.sub("", path.read_text("utf-8")))
    return LINK_RE.findall(text) + HTML_SRC_RE.findall(text)


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE_RE.sub("", path.read_text("utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE):
        plain = heading.replace("\\", "").replace("`", "").lower()
        anchors.add(re.sub(r"[^\w\- ]", "", plain).replace(" ", "-"))
    return anchors


def _project_text_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            if name in TEXT_NAMES or Path(name).suffix in TEXT_SUFFIXES:
                found.append(Path(folder) / name)
    return found


def test_the_readme_is_a_front_door_of_at_most_170_lines():
    lines = README.read_text("utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it under {README_MAX_LINES} and move detail into docs/."
    )


def test_the_readme_links_every_page_of_docs():
    linked = {(README.parent / target.split("#", 1)[0]).resolve() for target in _links(README)}
    unlinked = [doc.name for doc in DOCS if doc.resolve() not in linked]
    assert DOCS, "docs/ holds no .md page"
    assert unlinked == [], f"README.md does not link {', '.join(unlinked)}"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(document: Path):
    broken = []
    for target in _links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # another site, or mailto:
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part.split("?", 1)[0]) if file_part else document
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{document.relative_to(ROOT)} links to missing files: {', '.join(broken)}"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manage_py_command_named_exists(document: Path):
    text = document.read_text("utf-8")
    named = {name for pattern in COMMAND_RES for name in pattern.findall(text)}
    unknown = sorted(named - set(get_commands()))
    assert unknown == [], f"{document.relative_to(ROOT)} names commands that do not exist: {', '.join(unknown)}"


def test_no_file_points_at_issue_numbers_or_closing_notes():
    found = []
    for path in _project_text_files():
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            if any(pattern.search(line) for pattern in HISTORY_RES):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert found == [], "History belongs in commit messages; say what is true now:\n" + "\n".join(found)


def test_fixtures_cards_holds_sample_cards_that_parse():
    cards = sorted(CARDS.glob("*.txt"))
    assert cards, f"{CARDS.relative_to(ROOT)} holds no *.txt card"
    problems = []
    for path in cards:
        try:
            card = parse_card(path.read_bytes())
        except CardSyntaxError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if card.code != path.stem:
            problems.append(f"{path.name}: holds the card of {card.code}")
    assert problems == [], "\n".join(problems)
