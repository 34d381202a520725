"""Derived data kept current after every write: alias flags (AliasSignals) and role digests (RoleDigest).

What a list page would otherwise compute over every row on every request (the queue's flag
filters, the dashboard's counts, the directory's alias search) is stored here and read with an
index. None of it is curated data: it has no history, nobody edits it, and `rebuild_all()`
recomputes every row from the curated tables at any time.

How it stays current:

1. A write marks what it made stale with `enqueue(roles=…, texts=…)`: a role (its aliases'
   flags and its digest) or an alias text in lower case (the flags of every alias spelled so,
   in any role); `enqueue_selected(queryset)` marks every role a query selects in one INSERT.
   Every model these rows read has a signal receiver in roles.signals: single-row saves and
   deletes of aliases, mappings and roles; saves of taxonomy nodes (a family's code, a
   specialization's parent), levels (code, rank) and occupation codes (level); reloads of the
   reference titles. Bulk writes send no signals (the state machine's batches, card imports,
   the demo generator) and call `enqueue` themselves. The mark is a row in DerivedQueue, written
   in the writer's own transaction: a rolled-back write leaves nothing to do.
2. The same transaction enqueues the `refresh_derived` task (roles.tasks), once: with the
   database task backend the job is a row that commits or rolls back with the write. A task
   worker (`manage.py db_worker`, started by `make serve`) then runs `process_queue()`, which
   recomputes what the queue names from the committed rows and deletes the queue rows it did.
   Writers never lock a derived row, so no writer waits for another's flags, and the request
   never waits for the refresh. A failed or interrupted run leaves its queue rows for the next
   one (and for `manage.py refresh_derived`).
3. Workers run side by side, with no global lock. Each claims its own queue rows (SKIP LOCKED)
   and, before reading anything, locks the derived rows it will write: the signals of every
   alias in scope and the digests of its roles (placeholder rows first for new ones, then
   SELECT … FOR UPDATE, in key order). Two refreshes that would write the same row take turns,
   and the later one reads what the earlier committed, so no stale result overwrites a newer
   one. Tallies change by atomic increments (INSERT … ON CONFLICT DO UPDATE SET n = n + delta).

ROLEBOOK_DERIVED_REFRESH = "immediate" (the tests) works the queue off at once, inside the
writer's transaction, so a test sees the flags of the rows it just wrote.

`differences()` proves the rows current: it recomputes everything in memory and names each
stored row that differs (`manage.py refresh_derived --check`). The settings the flags read
(`fingerprint()`) are checked at `migrate` and at start-up (`refresh_derived --if-stale`).
docs/derived-data.md says why the rows are stored and marked stale rather than counted live.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.db.models import CharField, Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Lower
from django.utils import timezone

from .flags import alias_flags
from .models import (
    AliasSignals,
    ClassificationMapping,
    DerivedQueue,
    DerivedState,
    ReviewTally,
    Role,
    RoleDigest,
    TitleAlias,
)

logger = logging.getLogger(__name__)

# Bump when what is derived, or how, changes: the next migrate rebuilds every row.
VERSION = 3
# Queue rows worked off per transaction, and roles per chunk of a rebuild.
BATCH = 200
REBUILD_CHUNK = 250
STATE_NAME = "derived"
SIGNAL_FIELDS = ("confidence", *AliasSignals.FLAGS, "details")
DIGEST_FIELDS = ("family_code", "level_code", *RoleDigest.COUNTS, "search_text")


def fingerprint() -> str:
    """A hash of everything the stored rows depend on besides the data: the version and the settings."""
    bands = {k: str(v) for k, v in settings.ROLEBOOK_CONFIDENCE_BANDS.items()}
    material = json.dumps({"v": VERSION, "levels": settings.REVIEW_LEVEL_WORDS, "bands": bands}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Marking stale


class _Marked:
    """Among a transaction's on-commit callbacks: what it marked stale at one savepoint level.

    A savepoint rolled back takes its callbacks with it, as it takes its queue rows, so a mark
    recorded at a level still open is a queue row still there.
    """

    def __init__(self) -> None:
        self.keys: set[tuple[int | None, str]] = set()

    def __call__(self) -> None:
        pass


def _marked_here() -> tuple[set[tuple[int | None, str]], _Marked | None]:
    """The keys this transaction marked at open levels, and the mark of the current level (if any)."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        return set(), None
    open_levels = set(conn.savepoint_ids)
    seen: set[tuple[int | None, str]] = set()
    current = None
    for sids, func, _robust in conn.run_on_commit:
        if isinstance(func, _Marked) and sids <= open_levels:
            seen |= func.keys
            if sids == open_levels:
                current = func
    return seen, current


def _forget_marks() -> None:
    """The queue rows are gone (worked off in this transaction): a later write must mark again."""
    for _sids, func, _robust in transaction.get_connection().run_on_commit:
        if isinstance(func, _Marked):
            func.keys.clear()


def enqueue(*, roles: Iterable[int | None] = (), texts: Iterable[str | None] = ()) -> None:
    """Mark the derived rows of `roles` and of aliases spelled `texts` stale (one INSERT).

    What the transaction marked already is not marked twice (a save's signal and the review
    core's own mark of the same role: one row, one INSERT fewer per decision).
    """
    keys = {(pk, "") for pk in roles if pk} | {(None, t.lower()[:200]) for t in texts if t}
    deduplicate = getattr(settings, "ROLEBOOK_DERIVED_REFRESH", "on_commit") != "immediate"
    if deduplicate:
        seen, current = _marked_here()
        keys -= seen
        if keys and transaction.get_connection().in_atomic_block:
            if current is None:
                current = _Marked()
                transaction.on_commit(current)
            current.keys |= keys
    rows = [DerivedQueue(role_id=pk) for pk, _t in sorted(k for k in keys if k[0])]
    rows += [DerivedQueue(text=t) for _pk, t in sorted(k for k in keys if not k[0])]
    if not rows:
        return
    DerivedQueue.objects.bulk_create(rows)
    _schedule()


def enqueue_selected(roles: QuerySet) -> None:
    """Mark the derived rows of the roles `roles` selects stale: one INSERT … SELECT, however many.

    For a change that reaches every role under a node or at a level: the ids never leave the
    database. Raises TypeError for a QuerySet of another model.
    """
    if roles.model is not Role:
        raise TypeError(f"enqueue_selected() takes a QuerySet of Role, not of {roles.model.__name__}.")
    select = roles.order_by().values_list("pk", Value("", output_field=CharField()))
    sql, params = select.query.sql_with_params()
    conn = connections[router.db_for_write(DerivedQueue)]
    quote = conn.ops.quote_name
    columns = ", ".join(quote(DerivedQueue._meta.get_field(name).column) for name in ("role_id", "text"))
    with conn.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(DerivedQueue._meta.db_table)} ({columns}) {sql}", params)
        inserted = cursor.rowcount  # -1 where the driver cannot tell: scheduled all the same
    if inserted:
        _schedule()


def _schedule() -> None:
    if getattr(settings, "ROLEBOOK_DERIVED_REFRESH", "on_commit") == "immediate":
        # Inside the writer's transaction, without row locks: for tests, where one thread writes at a time.
        process_queue(lock=False)
        return
    from framework.tasks import enqueue_once_after_commit

    from .tasks import refresh_derived

    enqueue_once_after_commit(refresh_derived)


def run_queue() -> int:
    """Work the queue off (the task's body): logs a failure, whose queue rows wait for the next run."""
    try:
        return process_queue()
    except Exception:  # noqa: BLE001 - the write is committed; the queue keeps the work for the next run
        logger.exception("derived data: the refresh after a write failed; its queue rows wait for the next run")
        return 0


# ---------------------------------------------------------------------------------------------
# Working the queue off


def _row_locks() -> bool:
    """Whether this database locks rows (PostgreSQL). SQLite has one writer at a time anyway."""
    return connection.features.has_select_for_update


def process_queue(*, max_batches: int = 100, lock: bool = True) -> int:
    """Recompute what the queue names, BATCH rows per transaction; return how many queue rows were done.

    Queue rows another worker holds are skipped (SKIP LOCKED): workers share the queue.
    """
    done = 0
    for _ in range(max_batches):
        with transaction.atomic():
            claim = DerivedQueue.objects.order_by("pk").values_list("pk", "role_id", "text")
            if lock and connection.features.has_select_for_update_skip_locked:
                claim = claim.select_for_update(skip_locked=True)
            batch = list(claim[:BATCH])
            if not batch:
                break
            refresh(roles={r for _, r, _ in batch if r}, texts={t for _, _, t in batch if t}, lock=lock)
            DerivedQueue.objects.filter(pk__in=[pk for pk, _, _ in batch]).delete()
            _forget_marks()
            done += len(batch)
        if len(batch) < BATCH:
            break
    return done


def refresh(
    *, roles: set[int] = frozenset(), texts: set[str] = frozenset(), compare: bool = True, tally: bool = True,
    lock: bool = True,
) -> None:
    """Recompute the flags of every alias of `roles` or spelled like `texts`, and the digests of `roles`.

    A role that no longer exists is skipped (its rows went with it). With compare=False every row
    is written (a rebuild); otherwise only the rows that changed. With `lock` (and a database that
    locks rows) the rows to write are locked before anything is read: see the module's point 3.
    """
    roles, texts = set(roles), {t.lower() for t in texts}
    if not roles and not texts:
        return
    scope = Q(role_id__in=roles) if roles else Q(pk__in=[])
    if texts:
        scope |= Q(text_lower__in=texts)
    in_scope = TitleAlias.objects.annotate(text_lower=Lower("alias")).filter(scope)
    stored = locked_roles = None
    if lock and _row_locks():
        stored = _lock_signals(list(in_scope.order_by("pk").values_list("pk", flat=True)))
        locked_roles = _lock_digests(roles) if roles else {}
    aliases = list(in_scope.select_related("role__level"))
    flags = alias_flags(aliases)
    _store_signals(aliases, flags, compare=compare, stored=stored)
    if roles:
        _store_digests(roles, [a for a in aliases if a.role_id in roles], flags, tally=tally, old=locked_roles)


def _lock_signals(alias_ids: list[int]) -> dict[int, dict]:
    """Lock the signals rows of `alias_ids` (placeholders for new aliases), in key order; return them as stored.

    Two queries. A placeholder another refresh inserted and has not committed makes this one wait
    for it, so the later refresh always reads what the earlier one saw, and more.
    """
    if not alias_ids:
        return {}
    AliasSignals.objects.bulk_create(
        [AliasSignals(alias_id=pk, confidence=0) for pk in alias_ids], batch_size=2000, ignore_conflicts=True
    )
    rows = AliasSignals.objects.filter(alias_id__in=alias_ids).order_by("alias_id").select_for_update()
    return {row["alias_id"]: row for row in rows.values("alias_id", *SIGNAL_FIELDS)}


def _lock_digests(roles: set[int]) -> dict[int, dict]:
    """Lock the digests of `roles` (placeholders for new roles), in key order; return them as stored.

    The values are the digests' counts before this refresh: what it takes off the tallies. A
    placeholder is all zeros, as a missing digest counts. A placeholder for a role deleted
    meanwhile is dropped by `_store_digests` (the role is gone from `_role_rows`).
    """
    RoleDigest.objects.bulk_create([RoleDigest(role_id=pk) for pk in sorted(roles)], ignore_conflicts=True)
    rows = RoleDigest.objects.filter(role_id__in=roles).order_by("role_id").select_for_update()
    return {row["role_id"]: row for row in rows.values("role_id", "family_code", "level_code", *RoleDigest.COUNTS)}


def _computed_signals(aliases: list[TitleAlias], flags: dict) -> dict[int, AliasSignals]:
    """The AliasSignals row each alias should have, keyed by alias pk (no queries)."""
    rows = {}
    for alias in aliases:
        codes = {f.code for f in flags.get(alias.pk, [])}
        rows[alias.pk] = AliasSignals(
            alias_id=alias.pk, confidence=alias.confidence, **{flag: flag in codes for flag in AliasSignals.FLAGS},
            details={f.code: f.detail for f in flags.get(alias.pk, [])},
        )
    return rows


def _store_signals(aliases: list[TitleAlias], flags: dict, *, compare: bool, stored: dict | None = None) -> None:
    """Write the signals that changed. With `stored` (the rows this refresh locked), only those rows:
    an alias created after the lock is left to the refresh its own write queued."""
    wanted = _computed_signals(aliases, flags)
    if stored is not None:
        wanted = {pk: row for pk, row in wanted.items() if pk in stored}
    if compare and wanted:
        rows = stored.values() if stored is not None else AliasSignals.objects.filter(
            alias_id__in=list(wanted)).values("alias_id", *SIGNAL_FIELDS)
        for row in rows:
            new = wanted.get(row["alias_id"])
            if new is not None and all(getattr(new, f) == row[f] for f in SIGNAL_FIELDS):
                del wanted[row["alias_id"]]
    if wanted:
        AliasSignals.objects.bulk_create(
            list(wanted.values()), batch_size=2000, update_conflicts=True, unique_fields=["alias"],
            update_fields=list(SIGNAL_FIELDS),
        )


def _role_rows(roles: set[int]) -> list[tuple[int, str, str, str | None, str]]:
    """(pk, code, title, family code, level code) of the existing roles of `roles`: one query."""
    return list(
        Role.objects.filter(pk__in=roles).values_list("pk", "code", "title", "node__parent__code", "level__code")
    )


def _computed_digests(rows: list[tuple], aliases: list[TitleAlias], flags: dict) -> dict[int, RoleDigest]:
    """The RoleDigest each role of `rows` (_role_rows) should have, from its `aliases`: one query (mappings)."""
    bands = settings.ROLEBOOK_CONFIDENCE_BANDS
    medium, high = Decimal(bands["medium"]), Decimal(bands["high"])
    digests = {
        pk: RoleDigest(role_id=pk, family_code=family or "", level_code=level or "")
        for pk, _code, _title, family, level in rows
    }
    texts: dict[int, list[str]] = defaultdict(list)
    for alias in aliases:
        digest = digests.get(alias.role_id)
        if digest is None:
            continue
        texts[alias.role_id].append(alias.alias)
        if alias.status == TitleAlias.Status.PENDING:
            digest.aliases_pending += 1
            if alias.confidence < medium:
                digest.pending_low += 1
            elif alias.confidence < high:
                digest.pending_medium += 1
            else:
                digest.pending_high += 1
            if any(f.code == "reference_elsewhere" for f in flags.get(alias.pk, [])):
                digest.pending_reference_elsewhere += 1
        elif alias.status == TitleAlias.Status.APPROVED:
            digest.aliases_approved += 1
        else:
            digest.aliases_rejected += 1
    mapping_counts = (
        ClassificationMapping.objects.filter(role_id__in=digests).order_by().values_list("role_id", "status")
        .annotate(n=Count("pk"))
    )
    for role_id, status, n in mapping_counts:
        field = {"needs_review": "mappings_needs_review", "approved": "mappings_approved",
                 "rejected": "mappings_rejected"}.get(status)
        if field:
            setattr(digests[role_id], field, n)
    for pk, code, title, _family, _level in rows:
        # What the directory searches: the code, the title and every alias, one per line.
        digests[pk].search_text = "\n".join([code, title, *sorted(texts[pk])]).lower()
    return digests


def _store_digests(
    roles: set[int], aliases: list[TitleAlias], flags: dict, *, tally: bool = True, old: dict | None = None
) -> None:
    """Write the digests of `roles` and add what they changed to the tallies.

    `old`: the digests as locked (`_lock_digests`); without it they are read here.
    """
    if old is None:
        old = {row["role_id"]: row for row in RoleDigest.objects.filter(role_id__in=roles).values(
            "role_id", "family_code", "level_code", *RoleDigest.COUNTS)} if tally else {}
    digests = _computed_digests(_role_rows(roles), aliases, flags)
    if gone := roles - set(digests):
        RoleDigest.objects.filter(role_id__in=gone).delete()
    if digests:
        fields = [f.name for f in RoleDigest._meta.concrete_fields if not f.primary_key]
        RoleDigest.objects.bulk_create(
            list(digests.values()), batch_size=1000, update_conflicts=True, unique_fields=["role"],
            update_fields=fields,
        )
    if tally:
        _apply_to_tallies(old, digests)


def _places(family: str, level: str) -> list[tuple[str, str]]:
    return [(ReviewTally.Scope.ALL, ""), (ReviewTally.Scope.FAMILY, family), (ReviewTally.Scope.LEVEL, level)]


def _apply_to_tallies(old: dict[int, dict], new: dict[int, RoleDigest]) -> None:
    """Add what the digests changed to the tallies (all roles, their families, their levels): one query.

    An atomic increment (INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n), rows in key
    order: refreshes running side by side add their changes without reading each other's.
    """
    delta: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(RoleDigest.COUNTS, 0))
    for row in old.values():
        for place in _places(row["family_code"], row["level_code"]):
            for name in RoleDigest.COUNTS:
                delta[place][name] -= row[name]
    for digest in new.values():
        for place in _places(digest.family_code, digest.level_code):
            for name in RoleDigest.COUNTS:
                delta[place][name] += getattr(digest, name)
    delta = {place: d for place, d in sorted(delta.items()) if any(d.values())}
    if not delta:
        return
    conn = connections[router.db_for_write(ReviewTally)]
    quote = conn.ops.quote_name
    table = quote(ReviewTally._meta.db_table)
    names = ["scope", "key", *RoleDigest.COUNTS]
    columns = ", ".join(quote(ReviewTally._meta.get_field(name).column) for name in names)
    counts = [quote(ReviewTally._meta.get_field(name).column) for name in RoleDigest.COUNTS]
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(delta))
    params = [value for (scope, key), change in delta.items() for value in (scope, key, *change.values())]
    conflict = ", ".join(quote(ReviewTally._meta.get_field(name).column) for name in ("scope", "key"))
    increments = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT ({conflict}) DO UPDATE SET {increments}",
            params,
        )


def rebuild_tallies() -> None:
    """Recompute every tally from the role digests (after a rebuild): four queries (five on PostgreSQL).

    On PostgreSQL the tally table is locked first against concurrent increments (SHARE ROW
    EXCLUSIVE: refreshes wait at their increment until this commits). A refresh whose digest
    write is not committed yet adds its change after this one, to sums that counted its old digest.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(ReviewTally._meta.db_table)} "
                           "IN SHARE ROW EXCLUSIVE MODE")
    sums = {name: Sum(name) for name in RoleDigest.COUNTS}
    rows = [ReviewTally(scope=ReviewTally.Scope.ALL, key="", **{
        name: n or 0 for name, n in RoleDigest.objects.aggregate(**sums).items()})]
    for scope, field in ((ReviewTally.Scope.FAMILY, "family_code"), (ReviewTally.Scope.LEVEL, "level_code")):
        for row in RoleDigest.objects.order_by().values(field).annotate(**sums):
            counts = {name: row[name] or 0 for name in RoleDigest.COUNTS}
            rows.append(ReviewTally(scope=scope, key=row[field], **counts))
    ReviewTally.objects.all().delete()
    ReviewTally.objects.bulk_create(rows)


# ---------------------------------------------------------------------------------------------
# Rebuilding everything


def is_current() -> bool:
    """Whether the stored rows were computed with today's version and settings."""
    state = DerivedState.objects.filter(name=STATE_NAME).first()
    return state is not None and state.fingerprint == fingerprint()


def rebuild_all(*, stdout=None) -> int:
    """Recompute every alias's flags and every role's digest, REBUILD_CHUNK roles per transaction.

    Each chunk is its own transaction (no long lock on the alias table). Returns the number of
    roles. Writes racing a rebuild mark their roles stale as usual, so nothing is lost.
    """
    role_ids = list(Role.objects.order_by("pk").values_list("pk", flat=True))
    with transaction.atomic():
        # Rows left by a refresh that raced a delete (they join nothing; see the models).
        AliasSignals.objects.exclude(alias_id__in=TitleAlias.objects.values("pk")).delete()
        RoleDigest.objects.exclude(role_id__in=Role.objects.values("pk")).delete()
    for start in range(0, len(role_ids), REBUILD_CHUNK):
        chunk = set(role_ids[start : start + REBUILD_CHUNK])
        with transaction.atomic():
            refresh(roles=chunk, compare=False, tally=False)
        if stdout is not None and (start // REBUILD_CHUNK) % 10 == 9:
            stdout.write(f"  derived data: {start + len(chunk):,} of {len(role_ids):,} roles")
    with transaction.atomic():
        rebuild_tallies()
        DerivedState.objects.update_or_create(
            name=STATE_NAME, defaults={"fingerprint": fingerprint(), "built_at": timezone.now()}
        )
    return len(role_ids)


def rebuild_if_stale(*, stdout=None) -> int | None:
    """Rebuild every row when the stored ones were made with another version or settings, then work the queue off.

    Returns the number of roles rebuilt, or None when the rows were current (two queries, plus
    whatever the queue holds). `migrate` runs it (post_migrate) and so does start-up
    (`refresh_derived --if-stale`): a host whose settings change the flags rebuilds even
    when it does not migrate.
    """
    if is_current():
        process_queue()
        return None
    count = rebuild_all(stdout=stdout)
    process_queue()
    return count


def rebuild_after_migrate(sender, using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """post_migrate: rebuild the derived rows when they were made with another version or settings.

    Runs after `migrate` (and `flush`). On a new or up-to-date database it costs two queries.
    """
    conn = connections[using]
    tables = set(conn.introspection.table_names())
    if DerivedState._meta.db_table not in tables or AliasSignals._meta.db_table not in tables:
        return  # Migrated backwards past the derived tables.
    stale = not is_current()
    stdout = sys.stdout if stale and verbosity >= 1 and Role.objects.exists() else None
    if stdout is not None:
        stdout.write("  Rebuilding derived data (alias flags, role digests) …\n")
    count = rebuild_if_stale(stdout=_Lines(stdout) if stdout else None)
    if stdout is not None and count is not None:
        stdout.write(f"  Derived data rebuilt for {count:,} roles.\n")


# ---------------------------------------------------------------------------------------------
# Proving it current


def differences() -> list[str]:
    """Name every way the stored derived rows differ from a recompute of the curated rows, one line each.

    Empty when they are current: every alias's AliasSignals, every role's RoleDigest and every
    ReviewTally (a missing tally counts as zeros) equal what `rebuild_all()` would write now,
    with today's settings. Also a difference: rows computed with another version or settings
    (the fingerprint), queue entries not worked off yet, signals of a missing alias and the
    digest of a missing role (rows a rebuild drops). Writes nothing. Queries: 6 + 10 per
    REBUILD_CHUNK roles (the five flag queries among them), whatever the number of rows.
    """
    found = []
    stored_state = DerivedState.objects.filter(name=STATE_NAME).values_list("fingerprint", flat=True).first()
    if stored_state != fingerprint():
        found.append("derived state: made with another version or other settings (refresh_derived --if-stale)")
    if queued := DerivedQueue.objects.count():
        found.append(f"derived queue: {queued} {'entry' if queued == 1 else 'entries'} not worked off yet")
    tallies: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(RoleDigest.COUNTS, 0))
    role_ids = list(Role.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(role_ids), REBUILD_CHUNK):
        chunk = set(role_ids[start : start + REBUILD_CHUNK])
        aliases = list(TitleAlias.objects.filter(role_id__in=chunk).select_related("role__level").order_by("pk"))
        flags = alias_flags(aliases)
        found += _signal_differences(aliases, _computed_signals(aliases, flags), chunk)
        rows = _role_rows(chunk)
        digests = _computed_digests(rows, aliases, flags)
        found += _digest_differences(digests, {pk: code for pk, code, *_rest in rows})
        for digest in digests.values():
            for place in _places(digest.family_code, digest.level_code):
                for name in RoleDigest.COUNTS:
                    tallies[place][name] += getattr(digest, name)
    for alias_id in AliasSignals.objects.exclude(alias_id__in=TitleAlias.objects.values("pk")).values_list(
        "alias_id", flat=True
    ).order_by("alias_id"):
        found.append(f"alias {alias_id}: signals of a missing alias")
    for role_id in RoleDigest.objects.exclude(role_id__in=Role.objects.values("pk")).values_list(
        "role_id", flat=True
    ).order_by("role_id"):
        found.append(f"role {role_id}: digest of a missing role (its counts stay in the tallies)")
    stored = {(t["scope"], t["key"]): t for t in ReviewTally.objects.values("scope", "key", *RoleDigest.COUNTS)}
    for place in sorted(set(stored) | set(tallies)):
        scope, key = place
        label = "tally all" if scope == ReviewTally.Scope.ALL else f"tally {scope} {key or repr(key)}"
        for name in RoleDigest.COUNTS:
            old, new = stored.get(place, {}).get(name, 0), tallies.get(place, {}).get(name, 0)
            if old != new:
                found.append(f"{label}: {name} stored {old}, computed {new}")
    return found


def _signal_differences(aliases: list[TitleAlias], wanted: dict[int, AliasSignals], roles: set[int]) -> list[str]:
    """Lines for the aliases whose stored signals differ from `wanted`: one query."""
    stored = {row["alias_id"]: row for row in AliasSignals.objects.filter(alias__role_id__in=roles).values(
        "alias_id", *SIGNAL_FIELDS)}
    found = []
    for alias in aliases:
        new, row = wanted[alias.pk], stored.get(alias.pk)
        if row is None:
            found.append(f"alias {alias.pk} {alias.alias!r}: no stored signals")
            continue
        found += [
            f"alias {alias.pk} {alias.alias!r}: {name} stored {row[name]}, computed {getattr(new, name)}"
            for name in SIGNAL_FIELDS if row[name] != getattr(new, name)
        ]
    return found


def _digest_differences(wanted: dict[int, RoleDigest], codes: dict[int, str]) -> list[str]:
    """Lines for the roles whose stored digest differs from `wanted`: one query."""
    stored = {row["role_id"]: row for row in RoleDigest.objects.filter(role_id__in=wanted).values(
        "role_id", *DIGEST_FIELDS)}
    found = []
    for pk in sorted(wanted):
        new, row = wanted[pk], stored.get(pk)
        label = f"role {pk} {codes[pk]}"
        if row is None:
            found.append(f"{label}: no digest")
            continue
        for name in DIGEST_FIELDS:
            old, value = row[name], getattr(new, name)
            if old != value:
                if name == "search_text":
                    old, value = _short(old), _short(value)
                found.append(f"{label}: {name} stored {old}, computed {value}")
    return found


def _short(text: str, width: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= width else text[: width - 1] + "…"


class _Lines:
    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(text + "\n")
