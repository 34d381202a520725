"""A release's CSV files: one file per entity, for teams that load tables rather than fixtures.

Every file is UTF-8 (no byte-order mark), RFC 4180: comma-separated, CRLF line ends, a header
row, fields quoted only when they hold a comma, a quote or a line break, quotes doubled. Columns
keep the order of `COLUMNS` (new columns are only ever appended), rows are sorted in code-point
order of their key, so the same data gives byte-identical files on SQLite and PostgreSQL.

    roles.csv        one row per role
    aliases.csv      one row per approved alias
    mappings.csv     one row per approved SOC / O*NET-SOC mapping
    components.csv   one row per component, in card order

Values: empty for none; timestamps UTC ISO 8601 with microseconds and a ``Z``; confidences with
two decimals; a role's ``plan`` and ``core_outputs`` as JSON arrays of text; ``deprecated``
``true`` or ``false`` (published items are deprecated, never deleted) with what replaces them. Values are written
as curated, not escaped for spreadsheets: a cell that starts with ``=`` stays one.

The rows come from `publishing.published`, the same rule as the fixtures and the API.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.db.models import Case, IntegerField, Value, When

from roles.models import Component

from ..files import CSV, json_value, sha256_file
from ..published import (
    binary_order,
    code_scheme,
    match_type,
    published_aliases,
    published_components,
    published_mappings,
    published_roles,
    split_successors,
)

ROLES_CSV, ALIASES_CSV, MAPPINGS_CSV, COMPONENTS_CSV = "roles.csv", "aliases.csv", "mappings.csv", "components.csv"
COLUMNS: dict[str, tuple[str, ...]] = {
    ROLES_CSV: (
        "code", "title", "level", "level_name",
        "specialization", "specialization_name", "family", "family_name",
        "function", "function_name", "superfunction", "superfunction_name",
        "headline", "who_does_this_work", "external_problem", "internal_problem", "why_it_matters",
        "plan", "whats_at_stake", "success_looks_like", "summary", "core_outputs",
        # Deprecated, never deleted: "true" or "false", and the code of the role that replaces it;
        # a split role's successors instead, space-separated in the split's order.
        "deprecated", "replaced_by", "split_into",
    ),
    ALIASES_CSV: ("role_code", "alias", "type", "confidence", "approved_at",
                  "deprecated", "replaced_by_role_code", "replaced_by_alias"),
    MAPPINGS_CSV: ("role_code", "scheme", "code", "official_title", "match_type", "reviewed_at", "title", "source",
                   "deprecated"),
    COMPONENTS_CSV: ("role_code", "kind", "position", "text", "prevalence", "scope"),
}
# What each file holds, for the manifest.
ENTITIES = {ROLES_CSV: "roles", ALIASES_CSV: "aliases", MAPPINGS_CSV: "mappings", COMPONENTS_CSV: "components"}
# Each file's natural key: unique within the file, what release deltas (`publishing.delta`) join on.
KEYS: dict[str, tuple[str, ...]] = {
    ROLES_CSV: ("code",),
    ALIASES_CSV: ("role_code", "alias"),
    MAPPINGS_CSV: ("role_code", "scheme", "code"),
    COMPONENTS_CSV: ("role_code", "kind", "text"),
}
# The queries the CSV files take, one per file, whatever the row count.
CSV_QUERIES = (
    "the roles split roles became",
    "roles with their level and taxonomy path",
    "approved aliases, streamed",
    "approved mappings with their official codes, streamed",
    "components, streamed",
)
CHUNK_SIZE = 2000
_STORY = (
    "headline", "who_does_this_work", "external_problem", "internal_problem", "why_it_matters",
    "plan", "whats_at_stake", "success_looks_like", "summary", "core_outputs",
)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(json_value(value))


def _role_rows() -> Iterator[list[str]]:
    node = "node"
    paths = ["code", "title", "level__code", "level__name"]
    for _ in range(4):  # specialization, family, function, superfunction
        paths += [f"{node}__code", f"{node}__name"]
        node += "__parent"
    paths += [*_STORY, "deprecated", "replaced_by__code"]
    splits = split_successors()
    rows = published_roles().order_by(binary_order("code")).values_list(*paths)
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [*(_text(v) for v in row), " ".join(splits.get(row[0], ()))]


def _alias_rows() -> Iterator[list[str]]:
    rows = (
        published_aliases()
        .order_by(binary_order("role__code"), binary_order("alias"))
        .values_list("role__code", "alias", "alias_type", "confidence", "decided_at", "deprecated",
                     "replaced_by__role__code", "replaced_by__alias")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [_text(v) for v in row]


def _mapping_rows() -> Iterator[list[str]]:
    rows = (
        published_mappings()
        .order_by(binary_order("role__code"), binary_order("scheme"), binary_order("code"))
        .values_list("role__code", "code", "occupation__title", "occupation__level", "decided_at", "title", "source",
                     "deprecated")
    )
    for role, code, official, level, decided_at, title, source, deprecated in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [
            role, code_scheme(code), code, _text(official), match_type(code, level), _text(decided_at),
            title, source, _text(deprecated),
        ]


def kind_rank() -> Case:
    """Components' kinds in the order the card prints them."""
    return Case(
        *(When(kind=kind, then=Value(i)) for i, kind in enumerate(Component.KIND_ORDER)),
        default=Value(len(Component.KIND_ORDER)),
        output_field=IntegerField(),
    )


def _component_rows() -> Iterator[list[str]]:
    rows = (
        published_components()
        .annotate(kind_rank=kind_rank())
        .order_by(binary_order("role__code"), "kind_rank", "position", binary_order("text"))
        .values_list("role__code", "kind", "position", "text", "prevalence", "scope")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield [_text(v) for v in row]


ROWS: dict[str, Callable[[], Iterable[list[str]]]] = {
    ROLES_CSV: _role_rows,
    ALIASES_CSV: _alias_rows,
    MAPPINGS_CSV: _mapping_rows,
    COMPONENTS_CSV: _component_rows,
}


def write_csv_files(directory: Path, *, progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Write the four CSV files into `directory`; return their manifest entries (4 queries).

    Call inside the release's transaction so the files agree with the fixtures.
    """
    report = progress or (lambda message: None)
    entries = {}
    for name, columns in COLUMNS.items():
        path = Path(directory) / name
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, dialect="excel", lineterminator="\r\n")
            writer.writerow(columns)
            for row in ROWS[name]():
                writer.writerow(row)
                count += 1
        entries[name] = {
            "columns": list(columns),
            "count": count,
            "entity": ENTITIES[name],
            "format": CSV,
            "sha256": sha256_file(path),
        }
        report(f"{name}: {count} rows")
    return entries


def read_csv(path: Path | str) -> list[dict[str, str]]:
    """Read a release CSV file back into dicts, one per row (tests and consumers in Python)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
