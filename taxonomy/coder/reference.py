"""The coder's reference: SOC, O*NET and BLS rows read from fixtures/reference/, and their hash.

Every row is a `RefRow` labelled with its detailed SOC 2018 code. The rows are the only
thing the coder learns from and the only thing its evidence may quote.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The files the index is built from, in the order they are hashed. Changing any of them
# (or METHOD_VERSION in model.py) makes the stored index stale.
REFERENCE_FILES = (
    "soc2018.csv",
    "onet_soc_2019.csv",
    "soc2018_direct_match_titles.csv",
    "onet_alternate_titles.csv",
    "onet_occupation_data.csv",
    "onet_task_statements.csv",
)

# Kinds of reference row; the order fixes their number in the stored index.
TITLE_KINDS = ("soc", "onet", "direct", "alt", "short")
CONTEXT_KINDS = ("task", "desc")
KINDS = TITLE_KINDS + CONTEXT_KINDS


@dataclass(frozen=True)
class RefRow:
    """One reference item: its kind, its text, its SOC code and the code it is shown with."""

    kind: str
    text: str
    soc_code: str
    source_code: str  # The O*NET-SOC code for O*NET rows, else the SOC code.
    key: str = ""  # Task id for tasks; the split in bench/ holds rows out by it.


@dataclass
class Reference:
    """The detailed SOC titles and every labelled reference row."""

    soc_titles: dict[str, str]
    rows: list[RefRow] = field(default_factory=list)

    def filtered(self, keep: Callable[[RefRow], bool]) -> Reference:
        """Return a copy holding only the rows for which `keep` is true (used to hold rows out)."""
        return Reference(soc_titles=dict(self.soc_titles), rows=[r for r in self.rows if keep(r)])


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def load_reference(directory: Path) -> Reference:
    """Read the six reference CSV files under `directory`; raises FileNotFoundError when one is missing."""
    soc = _read(directory / "soc2018.csv")
    soc_titles = {r["code"]: r["title"] for r in soc if r["level"] == "detailed"}
    rows = [RefRow("soc", title, code, code) for code, title in soc_titles.items()]
    for r in _read(directory / "onet_soc_2019.csv"):
        rows.append(RefRow("onet", r["title"], r["soc_code"], r["code"]))
    for r in _read(directory / "soc2018_direct_match_titles.csv"):
        rows.append(RefRow("direct", r["title"], r["soc_code"], r["soc_code"]))
    for r in _read(directory / "onet_alternate_titles.csv"):
        rows.append(RefRow("alt", r["title"], r["soc_code"], r["onet_code"]))
        if r["short_title"]:
            rows.append(RefRow("short", r["short_title"], r["soc_code"], r["onet_code"], key=r["title"]))
    for r in _read(directory / "onet_occupation_data.csv"):
        rows.append(RefRow("desc", r["description"], r["soc_code"], r["onet_code"]))
    for r in _read(directory / "onet_task_statements.csv"):
        rows.append(RefRow("task", r["task"], r["soc_code"], r["onet_code"], key=r["task_id"]))
    # Only detailed codes may be suggested; a row labelled otherwise would be a data error.
    rows = [r for r in rows if r.soc_code in soc_titles and r.text.strip()]
    return Reference(soc_titles=soc_titles, rows=rows)


def reference_hash(directory: Path, extra: Iterable[str] = ()) -> str:
    """Return the SHA-256 (hex) of the reference files' bytes plus `extra` strings (the method version)."""
    digest = hashlib.sha256()
    for name in REFERENCE_FILES:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update((directory / name).read_bytes())
        digest.update(b"\0")
    for item in extra:
        digest.update(item.encode())
        digest.update(b"\0")
    return digest.hexdigest()
