"""The SOC coder's development split: held-out titles and tasks, carved by a stable hash.

- Alternate titles are held out as whole strings: sha1("title:" + normalised title) mod 100 < 20.
  Every reference title row with a held-out string (O*NET, BLS, SOC, short forms of it) leaves
  the index, so the same string is never on both sides.
- Task statements are held out by sha1("task:" + task id) mod 100 < 20.
- O*NET's detailed work activities (DWAs) are listed per occupation, not per task, and paraphrase
  task statements, so a DWA could describe a held-out task. Each DWA row is tied to the task(s)
  of its occupation it shares most words with (taxonomy/coder/reference.py); by default
  (`dwa="guarded"`) a DWA tied to a held-out task leaves the index with it. `dwa="kept"` keeps
  every DWA: bench soc measures the shipped coder both ways, to show what the guard is worth.
- Technology products are held out by sha1("tech:" + O*NET code + ":" + product) mod 100 < 20
  (their commodity classes never are). Tool-card queries: each card-like query with up to 3 of
  its occupation's held-out products added as components, as role cards name their tools.
- Title-only queries: each held-out string; right when any code it is listed under is suggested.
- Seniority queries: each held-out string as a role would name it, with "Senior ", "Lead " or
  "Junior " before it or " II" after it, chosen by sha1("seniority:" + title); right when any
  code of the plain string is suggested.
- Card-like queries: for each SOC code with at least 5 held-out tasks, every one of its held-out
  titles, each with 5 of those tasks (rotating); right when that code is suggested. The first 8
  titles of each code (by hash) are also flagged: the capped protocol, kept for comparison.

Nothing here depends on a method: every method in bench_soc is built from `train` and asked
the same queries. No title is special-cased. The buckets are taxonomy.coder.calibration's: the
coder fits its fusion and calibration on buckets 20 to 39 of the same hashes, never on these.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from taxonomy.coder.calibration import HELD_OUT_BUCKETS, bucket, tech_bucket
from taxonomy.coder.reference import Reference, RefRow, load_reference
from taxonomy.coder.text import normalize

CARD_TASKS = 5
# The capped card protocol: at most this many titles per code. Codes with many alternate titles
# (up to a few hundred) weigh more in the full protocol.
CARD_TITLES_PER_CODE = 8
CARD_TOOLS = 3
SENIORITY_FORMS = ("Senior {}", "Lead {}", "Junior {}", "{} II")


@dataclass(frozen=True)
class TitleQuery:
    title: str
    gold: frozenset[str]


@dataclass(frozen=True)
class CardQuery:
    title: str
    tasks: tuple[str, ...]
    gold: frozenset[str]
    capped: bool  # Among the first CARD_TITLES_PER_CODE titles of its code: part of the capped protocol.


@dataclass
class Split:
    train: Reference
    title_queries: list[TitleQuery]
    seniority_queries: list[TitleQuery]
    card_queries: list[CardQuery]
    tool_card_queries: list[CardQuery]
    held_titles: int
    held_tasks: int
    held_title_keys: frozenset[str] = frozenset()  # normalised held-out title strings
    held_task_ids: frozenset[str] = frozenset()


def seniority_title(title: str) -> str:
    """`title` with one seniority word, the same one on every run: "Senior Nurse", "Nurse II", ..."""
    return SENIORITY_FORMS[bucket("seniority:" + title) % len(SENIORITY_FORMS)].format(title)


def make_split(directory: Path, *, dwa: str = "guarded") -> Split:
    """Read the reference under `directory` and carve the held-out split from it.

    `dwa`: "guarded" holds out the DWAs tied to held-out tasks, "kept" keeps them all.
    """
    full = load_reference(directory)
    held_title = {normalize(r.text) for r in full.rows if r.kind == "alt" and _held("title:" + normalize(r.text))}
    held_task = {r.key for r in full.rows if r.kind == "task" and _held("task:" + r.key)}
    held_tech = {(r.source_code, r.text) for r in full.rows if r.kind == "tech" and tech_bucket(r) in HELD_OUT_BUCKETS}

    def keep(row: RefRow) -> bool:
        if row.kind == "task":
            return row.key not in held_task
        if row.kind == "dwa":
            return dwa == "kept" or not any(t in held_task for t in row.task_ids)
        if row.kind == "tech":
            return (row.source_code, row.text) not in held_tech
        if row.kind in ("desc", "commodity"):
            return True
        if row.kind == "short" and normalize(row.key) in held_title:
            return False  # The short form of a held-out title.
        return normalize(row.text) not in held_title

    train = full.filtered(keep)
    gold: dict[str, set[str]] = defaultdict(set)
    shown: dict[str, str] = {}
    for r in full.rows:
        if r.kind == "alt" and normalize(r.text) in held_title:
            gold[normalize(r.text)].add(r.soc_code)
            shown.setdefault(normalize(r.text), r.text)
    title_queries = sorted(
        (TitleQuery(shown[n], frozenset(codes)) for n, codes in gold.items()), key=lambda q: _hash("q:" + q.title)
    )

    tasks_by_code: dict[str, list[RefRow]] = defaultdict(list)
    for r in full.rows:
        if r.kind == "task" and r.key in held_task:
            tasks_by_code[r.soc_code].append(r)
    card_queries = []
    for code in sorted(tasks_by_code):
        tasks = sorted(tasks_by_code[code], key=lambda r: _hash("t:" + r.key))
        if len(tasks) < CARD_TASKS:
            continue
        titles = sorted((n for n in gold if code in gold[n]), key=lambda n: _hash("c:" + n))
        for i, n in enumerate(titles):
            picked = tuple(tasks[(i * CARD_TASKS + j) % len(tasks)].text for j in range(CARD_TASKS))
            card_queries.append(CardQuery(shown[n], picked, frozenset({code}), capped=i < CARD_TITLES_PER_CODE))
    seniority_queries = [TitleQuery(seniority_title(q.title), q.gold) for q in title_queries]
    tools_by_code: dict[str, list[str]] = defaultdict(list)
    for r in full.rows:
        if r.kind == "tech" and (r.source_code, r.text) in held_tech and r.text not in tools_by_code[r.soc_code]:
            tools_by_code[r.soc_code].append(r.text)
    tool_card_queries = []
    for i, q in enumerate(card_queries):
        (code,) = q.gold
        tools = sorted(tools_by_code[code], key=lambda text: _hash("tool:" + text))
        picked = tuple(tools[(i * CARD_TOOLS + j) % len(tools)] for j in range(min(CARD_TOOLS, len(tools))))
        tool_card_queries.append(CardQuery(q.title, q.tasks + picked, q.gold, q.capped))
    return Split(train, title_queries, seniority_queries, card_queries, tool_card_queries, len(held_title),
                 len(held_task), frozenset(held_title), frozenset(held_task))


def _held(key: str) -> bool:
    return bucket(key) in HELD_OUT_BUCKETS


def _hash(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()
