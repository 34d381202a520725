"""Release deltas: what changed since the release before, in files a machine applies byte for byte.

A release written against an earlier one (``--since``, and every publish after the first) holds
a ``delta/`` folder; a first release has none. The manifest's ``since`` names the release the
delta starts from, and lists every delta file under ``files`` (``format`` "delta") with its SHA-256.

    delta/<name>.csv       one per CSV file of the release: the rows added, changed, deprecated, removed
    delta/<name>.jsonl     the same rows as JSON Lines
    delta/skos-added.ttl   the statements of the new skos.ttl that the earlier one lacks
    delta/skos-removed.ttl the statements of the earlier skos.ttl that the new one lacks

CSV deltas are written when both releases hold CSV, SKOS deltas when both hold SKOS. Rows are
matched on the file's natural key (`publishing.formats.csv.KEYS`), which must be unique in each
file. A delta CSV has the release CSV's dialect (RFC 4180, CRLF, minimal quoting) and the columns
``op``, ``row``, then the new file's columns in its order: a key column under its own name, any
other column ``c`` as the pair ``old.c``, ``new.c``; columns only the earlier file had follow as
``old.c``. ``op`` is add, change, deprecate or remove; ``row`` is the row's position in the new
file (remove: in the earlier file), 1 for the first row under the header.

- add: ``new.*`` hold the row, ``old.*`` are empty;
- remove: ``old.*`` hold the row as it was, ``new.*`` are empty;
- change: only the columns that changed are filled, old and new value (so a column changed
  exactly where its two cells differ); deprecate is a change that turns ``deprecated`` true.

Removed rows come first, in the earlier file's order, then added and changed rows in the new
file's order. Everything is read from the files' headers, not from today's columns, so a column
added later is carried without a change here. Applying a delta keeps the rows that did not change
in their order (a file's order follows from its rows' values), drops the removed and changed ones,
then puts each added or changed row in at its ``row``, lowest first. The delta is applied once as
it is written and must give the new file's exact bytes.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import BNode, Graph, URIRef
from rdflib.term import Node

from . import staging
from .files import CSV, DELTA, DELTA_DIR, MANIFEST, ReleaseError, dumps_line, read_manifest, sha256_file
from .formats.csv import KEYS
from .formats.skos import PREDICATES, SKOS_FILE, write_turtle

ADD, CHANGE, DEPRECATE, REMOVE = "add", "change", "deprecate", "remove"
OPS = (ADD, CHANGE, DEPRECATE, REMOVE)
OP, ROW = "op", "row"
OLD, NEW = "old.", "new."
# The column whose turn from false to true is reported as "deprecate", and the texts that mean true.
DEPRECATED = "deprecated"
TRUE_TEXTS = frozenset({"true", "t", "yes", "y", "1"})
SKOS_ADDED, SKOS_REMOVED = "skos-added.ttl", "skos-removed.ttl"


class DeltaError(ReleaseError):
    """A delta cannot be computed or applied; the message names the file and the line."""


@dataclass
class Table:
    """A CSV file read whole: its header, its rows, and the line each row starts on."""

    path: Path
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """One row of a delta: `old` and `new` hold the non-key columns that matter for its op."""

    op: str
    row: int
    key: tuple[str, ...]
    old: dict[str, str] | None
    new: dict[str, str] | None


def read_table(path: Path) -> Table:
    """Read a CSV file; a missing file is an empty table. Raises DeltaError for a malformed file."""
    path = Path(path)
    table = Table(path)
    if not path.exists():
        return table
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, dialect="excel", strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                raise DeltaError(f"{path}, line 1: the file is empty, where a header row is expected.")
            table.columns = header
            start = reader.line_num + 1
            for row in reader:
                if len(row) != len(header):
                    raise DeltaError(f"{path}, line {start}: {len(row)} fields, where the header has {len(header)}.")
                table.rows.append(row)
                table.lines.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DeltaError(f"{path}, line {start}: {exc}.") from exc
        except UnicodeDecodeError as exc:
            raise DeltaError(f"{path}, line {start}: not UTF-8 ({exc.reason}).") from exc
    return table


def _show(keys: Iterable[str], key: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {value!r}" for name, value in zip(keys, key, strict=True))


def index_keys(table: Table, keys: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    """Map each row's natural key to its index; raises DeltaError naming the line of a repeated key."""
    positions = [table.columns.index(name) for name in keys]
    index: dict[tuple[str, ...], int] = {}
    for i, row in enumerate(table.rows):
        key = tuple(row[p] for p in positions)
        if key in index:
            raise DeltaError(
                f"{table.path}, line {table.lines[i]}: the key ({_show(keys, key)}) repeats line "
                f"{table.lines[index[key]]}; {', '.join(keys)} must be unique in the file."
            )
        index[key] = i
    return index


def _check_header(table: Table, keys: Iterable[str]) -> None:
    for name in table.columns:
        if "." in name or name in (OP, ROW):
            raise DeltaError(f"{table.path}, line 1: a column named {name!r} cannot be carried by a delta.")
    for name in keys:
        if name not in table.columns:
            raise DeltaError(f"{table.path}, line 1: no column {name!r}, part of the file's natural key.")


def _true(text: str) -> bool:
    return text.strip().lower() in TRUE_TEXTS


# ---------------------------------------------------------------------------------------------
# Computing


def csv_delta(old: Table, new: Table, keys: tuple[str, ...]) -> tuple[list[str], list[Entry]]:
    """Return the delta CSV's header and its entries, from `old` to `new`.

    Raises DeltaError for a missing key column, a repeated key, or unchanged rows the new file
    holds in another order than the earlier one (a delta keeps the order of the rows it leaves alone).
    """
    _check_header(new, keys)
    if old.columns:
        _check_header(old, keys)
    old_index = index_keys(old, keys) if old.columns else {}
    index_keys(new, keys)
    new_keys = [new.columns.index(name) for name in keys]
    old_at = {name: i for i, name in enumerate(old.columns)}
    new_other = [(name, i) for i, name in enumerate(new.columns) if name not in keys]
    old_other = [(name, i) for i, name in enumerate(old.columns) if name not in keys]
    header = [OP, ROW]
    for name in new.columns:
        header += [name] if name in keys else [OLD + name, NEW + name]
    header += [OLD + name for name, _ in old_other if name not in new.columns]

    entries: list[Entry] = []
    placed: list[Entry] = []
    found: set[int] = set()
    unchanged = -1  # the earlier file's index of the last unchanged row
    for i, row in enumerate(new.rows):
        key = tuple(row[p] for p in new_keys)
        j = old_index.get(key)
        if j is None:
            placed.append(Entry(ADD, i + 1, key, None, {name: row[p] for name, p in new_other}))
            continue
        found.add(j)
        before = old.rows[j]
        changed = {}
        for name, p in new_other:
            was = before[old_at[name]] if name in old_at else ""
            if was != row[p]:
                changed[name] = (was, row[p])
        if changed:
            flag = changed.get(DEPRECATED)
            op = DEPRECATE if flag and not _true(flag[0]) and _true(flag[1]) else CHANGE
            placed.append(Entry(op, i + 1, key, {n: v[0] for n, v in changed.items()},
                                {n: v[1] for n, v in changed.items()}))
        elif j < unchanged:
            raise DeltaError(
                f"{new.path}, line {new.lines[i]}: the unchanged row ({_show(keys, key)}) comes after rows it "
                f"preceded in {old.path} (line {old.lines[j]}); a delta keeps the order of unchanged rows."
            )
        else:
            unchanged = j
    for j, row in enumerate(old.rows):
        if j not in found:
            key = tuple(row[old_at[name]] for name in keys)
            entries.append(Entry(REMOVE, j + 1, key, {name: row[i] for name, i in old_other}, None))
    entries += placed
    return header, entries


def entry_cells(header: list[str], keys: tuple[str, ...], entry: Entry) -> list[str]:
    """The cells of `entry` under `header` (a delta CSV's)."""
    key = dict(zip(keys, entry.key, strict=True))
    cells = [entry.op, str(entry.row)]
    for name in header[2:]:
        if name.startswith(OLD):
            cells.append((entry.old or {}).get(name[len(OLD):], ""))
        elif name.startswith(NEW):
            cells.append((entry.new or {}).get(name[len(NEW):], ""))
        else:
            cells.append(key[name])
    return cells


def write_csv(path: Path, columns: list[str], rows: Iterable[list[str]]) -> None:
    """Write a CSV file exactly as the release writer does (publishing.formats.csv)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, dialect="excel", lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows(rows)


def csv_bytes(columns: list[str], rows: Iterable[list[str]]) -> bytes:
    """The bytes `write_csv` would write."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_csv_delta(old_path: Path, new_path: Path, keys: tuple[str, ...], folder: Path, *, entity: str) -> dict:
    """Write delta/<name>.csv and .jsonl for one CSV file; return their manifest entries.

    The delta is applied to the earlier file at once and must give the new file's bytes.
    Raises DeltaError (see csv_delta), also when that check fails.
    """
    old, new = read_table(old_path), read_table(new_path)
    header, entries = csv_delta(old, new, keys)
    csv_path = folder / new_path.name
    write_csv(csv_path, header, (entry_cells(header, keys, entry) for entry in entries))
    jsonl_path = folder / f"{new_path.stem}.jsonl"
    with open(jsonl_path, "w", encoding="utf-8", newline="\n") as handle:
        for entry in entries:
            obj = {"key": dict(zip(keys, entry.key, strict=True)), "new": entry.new, "old": entry.old,
                   "op": entry.op, "row": entry.row}
            handle.write(dumps_line(obj) + "\n")
    columns, rows = apply_table(old, read_table(csv_path))
    if csv_bytes(columns, rows) != new_path.read_bytes():
        raise DeltaError(f"{csv_path}: applied to {old_path} it does not give {new_path} byte for byte.")
    return {
        f"{DELTA_DIR}/{csv_path.name}": {"columns": header, "count": len(entries), "entity": entity,
                                         "format": DELTA, "sha256": sha256_file(csv_path)},
        f"{DELTA_DIR}/{jsonl_path.name}": {"count": len(entries), "entity": entity, "format": DELTA,
                                           "sha256": sha256_file(jsonl_path)},
    }


def _graph(path: Path) -> Graph:
    try:
        return Graph(bind_namespaces="none").parse(path, format="turtle")
    except Exception as exc:  # noqa: BLE001 - rdflib raises many kinds; each names the line
        raise DeltaError(f"{path}: not readable as Turtle: {exc}") from exc


def _term_key(term: Node) -> tuple:
    return (0 if isinstance(term, URIRef) else 1, str(term), getattr(term, "language", None) or "",
            str(getattr(term, "datatype", None) or ""))


def write_triples(path: Path, triples: Iterable[tuple[Node, Node, Node]], *, source: Path) -> int:
    """Write `triples` as Turtle, subjects and statements sorted; return how many were written.

    Raises DeltaError for a blank node (`source` names the file): a set difference cannot match them.
    """
    rank = {predicate: i for i, predicate in enumerate(PREDICATES)}
    by_subject: dict[Node, list[tuple[Node, Node]]] = defaultdict(list)
    for subject, predicate, obj in triples:
        if isinstance(subject, BNode) or isinstance(obj, BNode):
            raise DeltaError(f"{source} holds blank nodes: a SKOS delta compares named terms only.")
        by_subject[subject].append((predicate, obj))
    blocks = (
        (subject, sorted(by_subject[subject],
                         key=lambda s: (rank.get(s[0], len(rank)), str(s[0]), _term_key(s[1]))))
        for subject in sorted(by_subject, key=_term_key)
    )
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        return write_turtle(blocks, handle)


def write_skos_delta(old_path: Path, new_path: Path, folder: Path) -> dict:
    """Write delta/skos-added.ttl and delta/skos-removed.ttl; return their manifest entries."""
    old, new = set(_graph(old_path)), set(_graph(new_path))
    entries = {}
    for name, triples, source in ((SKOS_ADDED, new - old, new_path), (SKOS_REMOVED, old - new, old_path)):
        count = write_triples(folder / name, triples, source=source)
        entries[f"{DELTA_DIR}/{name}"] = {"count": count, "entity": "skos", "format": DELTA,
                                          "sha256": sha256_file(folder / name)}
    return entries


def write_delta(
    since_dir: Path,
    since_manifest: dict,
    directory: Path,
    files: dict[str, dict],
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Write `directory`/delta/ against the release in `since_dir`; return the delta files' manifest entries.

    `files` are the new release's manifest entries. Nothing is written unless both releases hold
    CSV or both hold SKOS. Raises DeltaError (see csv_delta), also when a file of the earlier
    release differs from the SHA-256 its manifest gives.
    """
    report = progress or (lambda message: None)
    earlier = since_manifest.get("files") or {}
    pairs = []
    old_csv = {name for name, info in earlier.items() if info.get("format") == CSV}
    new_csv = sorted(name for name, info in files.items() if info.get("format") == CSV)
    if old_csv and new_csv:
        pairs += [(name, name in old_csv) for name in new_csv]
    with_skos = SKOS_FILE in earlier and SKOS_FILE in files
    if not pairs and not with_skos:
        return {}
    for name in [name for name, present in pairs if present] + ([SKOS_FILE] if with_skos else []):
        if sha256_file(since_dir / name) != earlier[name].get("sha256"):
            raise DeltaError(f"{since_dir / name} differs from the SHA-256 its {MANIFEST} gives: no delta against it.")
    folder = directory / DELTA_DIR
    folder.mkdir(exist_ok=True)
    entries: dict[str, dict] = {}
    for name, _present in pairs:
        keys = KEYS.get(name)
        if keys is None:
            raise DeltaError(f"{name} has no natural key in publishing.formats.csv.KEYS: a delta needs one.")
        written = write_csv_delta(since_dir / name, directory / name, keys, folder,
                                  entity=files[name].get("entity") or Path(name).stem)
        entries.update(written)
        report(f"{DELTA_DIR}/{name}: {written[f'{DELTA_DIR}/{name}']['count']} rows")
    if with_skos:
        written = write_skos_delta(since_dir / SKOS_FILE, directory / SKOS_FILE, folder)
        entries.update(written)
        report(f"{DELTA_DIR}/{SKOS_ADDED}, {SKOS_REMOVED}: "
               + ", ".join(str(info["count"]) for info in written.values()) + " statements")
    return entries


# ---------------------------------------------------------------------------------------------
# Applying


def apply_table(old: Table, delta: Table) -> tuple[list[str], list[list[str]]]:
    """Apply the delta CSV `delta` to `old`; return the new file's columns and rows.

    Raises DeltaError naming the file and line: a malformed header or row, an unknown op, a key
    the delta repeats, adds twice or does not find, old values that do not match, a bad row.
    """
    here = f"{delta.path}, line"
    header = delta.columns
    if header[:2] != [OP, ROW]:
        raise DeltaError(f"{here} 1: a delta's header starts with op,row, not {','.join(header[:2]) or 'nothing'}.")
    body = header[2:]
    keys = tuple(name for name in body if not name.startswith((OLD, NEW)))
    columns = [name.removeprefix(NEW) for name in body if not name.startswith(OLD)]
    if not keys:
        raise DeltaError(f"{here} 1: the header names no key column.")
    at = {name: i for i, name in enumerate(header)}
    for name in columns:
        if name not in keys and OLD + name not in at:
            raise DeltaError(f"{here} 1: {NEW}{name} has no {OLD}{name} beside it.")
    if old.columns:
        for name in keys:
            if name not in old.columns:
                raise DeltaError(f"{old.path}, line 1: no column {name!r}, which the delta {delta.path} keys on.")
        for name in old.columns:
            if name not in keys and OLD + name not in at:
                raise DeltaError(
                    f"{old.path}, line 1: column {name!r} is not in the delta {delta.path}: "
                    "it was made for another file."
                )
    old_index = index_keys(old, keys) if old.columns else {}
    old_at = {name: i for i, name in enumerate(old.columns)}

    def carried(row: list[str]) -> list[str]:
        return [row[old_at[name]] if name in old_at else "" for name in columns]

    replaced: set[int] = set()
    removed: set[int] = set()
    placed: list[tuple[int, int, list[str]]] = []  # (row in the new file, delta line, values)
    seen: dict[tuple[str, ...], int] = {}
    for cells, line in zip(delta.rows, delta.lines, strict=True):
        where = f"{here} {line}"
        op = cells[0]
        if op not in OPS:
            raise DeltaError(f"{where}: op {op!r} is not one of {', '.join(OPS)}.")
        if not (cells[1].isascii() and cells[1].isdigit()) or int(cells[1]) < 1:
            raise DeltaError(f"{where}: row {cells[1]!r} is not a row number (1 or more).")
        position = int(cells[1])
        key = tuple(cells[at[name]] for name in keys)
        if key in seen:
            raise DeltaError(f"{where}: the key ({_show(keys, key)}) is already on line {seen[key]}.")
        seen[key] = line
        j = old_index.get(key)
        if op == ADD:
            if j is not None:
                raise DeltaError(f"{where}: adds ({_show(keys, key)}), which {old.path} holds on line {old.lines[j]}.")
            placed.append((position, line, [cells[at[name]] if name in keys else cells[at[NEW + name]]
                                            for name in columns]))
            continue
        if j is None:
            raise DeltaError(f"{where}: {op} ({_show(keys, key)}), which {old.path} does not hold.")
        before = old.rows[j]
        if op == REMOVE:
            for name, i in old_at.items():
                if name not in keys and cells[at[OLD + name]] != before[i]:
                    raise DeltaError(f"{where}: old {name} {cells[at[OLD + name]]!r} does not match "
                                     f"{old.path}, line {old.lines[j]}: {before[i]!r}.")
            removed.add(j)
            continue
        values = carried(before)
        for i, name in enumerate(columns):
            if name in keys:
                continue
            was, now = cells[at[OLD + name]], cells[at[NEW + name]]
            if was == now:
                continue
            actual = before[old_at[name]] if name in old_at else ""
            if actual != was:
                raise DeltaError(f"{where}: old {name} {was!r} does not match {old.path}, line {old.lines[j]}: "
                                 f"{actual!r}.")
            values[i] = now
        if values == carried(before):
            raise DeltaError(f"{where}: {op} ({_show(keys, key)}) changes nothing.")
        replaced.add(j)
        placed.append((position, line, values))

    kept = (carried(row) for j, row in enumerate(old.rows) if j not in removed and j not in replaced)
    rows: list[list[str]] = []
    for position, line, values in sorted(placed, key=lambda item: item[0]):
        while len(rows) < position - 1:
            following = next(kept, None)
            if following is None:
                break
            rows.append(following)
        if len(rows) != position - 1:
            raise DeltaError(f"{here} {line}: row {position} cannot be placed: the new file has "
                             f"{'only ' if len(rows) < position - 1 else ''}{len(rows)} rows before it.")
        rows.append(values)
    rows.extend(kept)
    return columns, rows


def apply_delta(
    release_dir: Path | str,
    delta_dir: Path | str,
    output: Path | str,
    *,
    notice: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write the new release's CSV files into the new or empty `output`; return the rows per file.

    Reads the release's CSV files and the delta CSV files in `delta_dir`; `output` is built in a
    staging directory beside it and renamed into place, so it appears whole or not at all. When
    `delta_dir` sits in its release (beside that release's manifest.json), every file must come
    out with the SHA-256 that manifest gives. Raises DeltaError naming the file and line.
    """
    release_dir, delta_dir, output = Path(release_dir), Path(delta_dir), Path(output)
    if not release_dir.is_dir():
        raise DeltaError(f"{release_dir} is not a directory.")
    if not delta_dir.is_dir():
        raise DeltaError(f"{delta_dir} is not a directory.")
    names = sorted(path.name for path in delta_dir.glob("*.csv"))
    if not names:
        raise DeltaError(f"{delta_dir} holds no delta CSV files.")
    if (release_dir / MANIFEST).is_file():
        held = {name for name, info in (read_manifest(release_dir).get("files") or {}).items()
                if info.get("format") == CSV}
    else:
        held = {path.name for path in release_dir.glob("*.csv")}
    missing = sorted(held - set(names))
    if missing:
        raise DeltaError(f"{delta_dir} has no {missing[0]}, which {release_dir} holds: it is another release's delta.")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DeltaError(f"{output} exists and is not an empty directory: choose a new one.")
    expected = _expected_hashes(delta_dir, names)
    cleaned = staging.sweep_leftovers(output.parent, name=output.name, whole=lambda path: True)
    if cleaned and notice is not None:
        notice(staging.cleanup_notice(cleaned))
    staging.ensure_directory(output.parent)
    counts = {}
    with staging.staging_directory(output) as building:
        for name in names:
            columns, rows = apply_table(read_table(release_dir / name), read_table(delta_dir / name))
            write_csv(building / name, columns, rows)
            counts[name] = len(rows)
            if name in expected and sha256_file(building / name) != expected[name]:
                raise DeltaError(f"{delta_dir / name}: the result differs from {name} of the release it belongs "
                                 f"to (SHA-256 {expected[name]}): {release_dir} is not the release before it.")
        staging.fsync_tree(building)
        try:
            staging.place(building, output)
        except FileExistsError:
            raise DeltaError(f"{output} was filled meanwhile: choose a new directory.") from None
    return counts


def _expected_hashes(delta_dir: Path, names: list[str]) -> dict[str, str]:
    """The new files' SHA-256 from the manifest beside `delta_dir`, when it lists these delta files as they are."""
    release = delta_dir.parent
    if not (release / MANIFEST).is_file():
        return {}
    try:
        files = read_manifest(release).get("files") or {}
    except ReleaseError:
        return {}
    expected = {}
    for name in names:
        listed = files.get(f"{DELTA_DIR}/{name}")
        if listed and name in files and listed.get("sha256") == sha256_file(delta_dir / name):
            expected[name] = files[name].get("sha256")
    return expected
