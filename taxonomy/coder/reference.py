"""The coder's reference: SOC, O*NET and BLS rows read from fixtures/reference/, and their hash.

Every row is a `RefRow` labelled with its detailed SOC 2018 code. The rows are the only
thing the coder learns from and the only thing its evidence may quote.

O*NET's detailed work activities (DWAs) generalise task statements, and the file lists them per
occupation without the task they came from. Each DWA row is therefore tied, by word overlap, to
the task(s) of its occupation it most resembles (`RefRow.key`), so that a split holding a task out
also holds out the DWAs that may paraphrase it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .text import STOP_WORDS, words

# The files the index is built from, in the order they are hashed. Changing any of them
# (or METHOD_VERSION in model.py) makes the stored index stale.
REFERENCE_FILES = (
    "soc2018.csv",
    "onet_soc_2019.csv",
    "soc2018_direct_match_titles.csv",
    "onet_alternate_titles.csv",
    "onet_occupation_data.csv",
    "onet_task_statements.csv",
    "onet_technology_skills.csv",
    "onet_dwa.csv",
)

# Kinds of reference row; the order fixes their number in the stored index.
TITLE_KINDS = ("soc", "onet", "direct", "alt", "short")
CONTEXT_KINDS = ("task", "desc")
# What an occupation works with and does, in O*NET's general words: detailed work activities,
# technology products ("TensorFlow") and their commodity classes ("Data base management system software").
WORK_KINDS = ("dwa", "tech", "commodity")
KINDS = TITLE_KINDS + CONTEXT_KINDS + WORK_KINDS


@dataclass(frozen=True)
class RefRow:
    """One reference item: its kind, its text, its SOC code and the code it is shown with."""

    kind: str
    text: str
    soc_code: str
    source_code: str  # The O*NET-SOC code for O*NET rows, else the SOC code.
    # Task id for tasks; for DWAs the ids of the tasks they most resemble, joined by "|" (`task_ids`).
    # Splits hold rows out by it.
    key: str = ""

    @property
    def task_ids(self) -> tuple[str, ...]:
        """The task ids a task or DWA row stands for (empty for other kinds)."""
        return tuple(self.key.split("|")) if self.kind in ("task", "dwa") and self.key else ()


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
    """Read the reference CSV files under `directory`; raises FileNotFoundError when one is missing."""
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
    tasks = _read(directory / "onet_task_statements.csv")
    for r in tasks:
        rows.append(RefRow("task", r["task"], r["soc_code"], r["onet_code"], key=r["task_id"]))
    commodities = set()
    for r in _read(directory / "onet_technology_skills.csv"):
        rows.append(RefRow("tech", r["example"], r["soc_code"], r["onet_code"]))
        if (r["onet_code"], r["commodity_title"]) not in commodities:
            commodities.add((r["onet_code"], r["commodity_title"]))
            rows.append(RefRow("commodity", r["commodity_title"], r["soc_code"], r["onet_code"]))
    tasks_of: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for r in tasks:
        tasks_of.setdefault(r["onet_code"], []).append((r["task_id"], _stems(r["task"])))
    for r in _read(directory / "onet_dwa.csv"):
        key = "|".join(_closest_tasks(_stems(r["dwa_title"]), tasks_of.get(r["onet_code"], [])))
        rows.append(RefRow("dwa", r["dwa_title"], r["soc_code"], r["onet_code"], key=key))
    # Only detailed codes may be suggested; a row labelled otherwise would be a data error.
    rows = [r for r in rows if r.soc_code in soc_titles and r.text.strip()]
    return Reference(soc_titles=soc_titles, rows=rows)


def _stems(text: str) -> frozenset[str]:
    # Five-letter prefixes: a DWA says "analyze" where its task says "analysis".
    return frozenset(w[:5] for w in words(text) if w not in STOP_WORDS)


def _closest_tasks(dwa: frozenset[str], tasks: list[tuple[str, frozenset[str]]]) -> list[str]:
    """The ids of the tasks sharing most of the DWA's words (all of them on a tie)."""
    if not tasks:
        return []
    overlap = [len(dwa & words) / (1 + len(words)) ** 0.5 for _, words in tasks]
    best = max(overlap)
    return [task_id for (task_id, _), value in zip(tasks, overlap, strict=True) if value == best]


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
