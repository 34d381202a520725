"""One scale of `bench scale` in a process of its own: `python -m bench.scale_worker` (run by bench/bench_scale.py).

DATABASE_URL names the scale's PostgreSQL database. With BENCH_SCALE_BUILD=1 the worker fills the
empty database (reference data, generate_demo, the coder's reference titles, VACUUM ANALYZE) and
marks it complete; either way it migrates (timed) and then times every page. Progress goes to
stderr; the last line on stdout is one JSON object: {"info": …, "pages": {label: {p50, p95, …}}}.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from html import unescape
from typing import Any

import django

STATEMENT_TIMEOUT_MS = 60_000
DEEP_ALIAS_PAGE = 100
# The mapping queue holds ≈1,300 items at 1×: 26 pages. Its deep page is the 20th at both scales.
DEEP_MAPPING_PAGE = 20
SEARCH = "analyst"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _statement_timeout(sender, connection, **kwargs) -> None:
    # The slowest pages of old code take minutes at 10×: a timeout records them as such.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


def build(roles: int, params: dict) -> float:
    from django.core.management import call_command
    from django.db import connection

    from bench.common import REFERENCE_FIXTURES, demo_data
    from framework.audit import get_system_user

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
    log(f"generating {roles:,} roles …")
    summary = demo_data(
        roles=roles, aliases_per_role=params["aliases_per_role"], components_per_role=params["components_per_role"],
        seed=params["seed"], approve_fraction=params["approve_fraction"], actor=get_system_user(), quiet=False,
    )
    log(f"demo data: {summary}")
    call_command("build_coder", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_scale_marker (params text NOT NULL)")
        cursor.execute("INSERT INTO bench_scale_marker VALUES (%s)", [os.environ["BENCH_SCALE_PARAMS"]])
    connection.close()
    vacuum()
    return time.perf_counter() - start


def vacuum() -> None:
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def users() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from roles.groups import CURATORS, REVIEWERS, sync_groups

    sync_groups(Group, Permission)
    User = get_user_model()
    made = {}
    for name, group in (("bench-reviewer", REVIEWERS), ("bench-curator", CURATORS)):
        user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True})
        user.groups.add(Group.objects.get(name=group))
        made[name] = User.objects.get(pk=user.pk)
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    made["bench-admin"] = admin
    return made


def _next_link(html: str) -> str | None:
    match = re.search(r'<a href="([^"]+)"[^>]*rel="next"', html) or re.search(r'rel="next"[^>]*href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def deep_url(client, url: str, page: int) -> str:
    """The address of the `page`th page of `url`, found by following its "next" links (untimed)."""
    path = url.split("?")[0]
    current = url
    for _ in range(page - 1):
        response = client.get(current)
        link = _next_link(response.content.decode())
        if link is None:
            raise RuntimeError(f"{url} has fewer than {page} pages")
        current = link if link.startswith("/") else f"{path}{link}"
    return current


def pages(users: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, user, url) of every page timed."""
    from django.contrib import admin
    from django.db.models import Count
    from django.urls import reverse

    from roles.models import ClassificationMapping, Role, TitleAlias

    role = Role.objects.select_related("node__parent", "level").order_by("code").first()
    other = Role.objects.exclude(pk=role.pk).order_by("-code").first()
    level = role.level.code
    # The family with the most mappings waiting, so its filtered queue pages are full at every scale.
    family = (
        ClassificationMapping.objects.filter(status=ClassificationMapping.Status.NEEDS_REVIEW)
        .values("role__node__parent__code").annotate(n=Count("pk")).order_by("-n", "role__node__parent__code")
        .values_list("role__node__parent__code", flat=True).first()
    ) or role.node.parent.code
    source = (TitleAlias.objects.values("source").annotate(n=Count("pk")).order_by("-n").first() or {}).get("source")
    aliases, mappings = reverse("review:aliases"), reverse("review:mappings")
    R, A = "bench-reviewer", "bench-admin"
    found = [
        ("review dashboard", R, reverse("review:dashboard")),
        ("alias queue, first page", R, aliases),
        (f"alias queue, page {DEEP_ALIAS_PAGE}", R, f"deep:{DEEP_ALIAS_PAGE}:{aliases}"),
    ]
    alias_filters = [
        ("family", family), ("level", level), ("role", role.code), ("source", source),
        ("status", "approved"), ("status", ""), ("band", "low"), ("band", "medium"), ("band", "high"),
        ("confidence_min", "0.90"), ("confidence_max", "0.30"), ("alias_type", "abbreviation"),
        ("flag", "conflict"), ("flag", "role_title"), ("flag", "near_duplicate"), ("flag", "level"),
        ("flag", "reference_elsewhere"), ("q", SEARCH),
    ]
    # Labels name the sample values only where they are the same at every scale.
    generic = {"family": "<a family>", "level": "<a level>", "role": "<a role>"}
    for key, value in alias_filters:
        shown = generic.get(key) or value or "(any)"
        found.append((f"alias queue, {key}={shown}", R, f"{aliases}?{key}={value}"))
    for sort in ("-confidence", "role"):
        found.append((f"alias queue, sort={sort}", R, f"{aliases}?sort={sort}"))
    found += [
        ("mapping queue, first page", R, mappings),
        (f"mapping queue, page {DEEP_MAPPING_PAGE}", R, f"deep:{DEEP_MAPPING_PAGE}:{mappings}"),
    ]
    mapping_filters = [
        ("family", family), ("level", level), ("role", role.code), ("source", "card"), ("status", "approved"),
        ("depth", "group"), ("depth", "detailed"), ("depth", "unknown"), ("flag", "coder_disagrees"),
    ]
    for key, value in mapping_filters:
        found.append((f"mapping queue, {key}={generic.get(key) or value}", R, f"{mappings}?{key}={value}"))
    found.append(("mapping queue, sort=code", R, f"{mappings}?sort=code"))
    found += [
        ("decision log", R, reverse("review:decisions")),
        ("decision log, kind=approve", R, f"{reverse('review:decisions')}?decision=approve"),
        ("role directory", R, reverse("roles:directory")),
        (f"role directory, search {SEARCH!r}", R, f"{reverse('roles:directory')}?q={SEARCH}"),
        ("card page", R, reverse("roles:card", args=[role.code])),
        ("compare", R, f"{reverse('roles:compare')}?a={role.code}&b={other.code}"),
    ]
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label):
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        found.append((f"admin {opts.label_lower}", A, url))
        if model_admin.search_fields:
            found.append((f"admin {opts.label_lower}, search {SEARCH!r}", A, f"{url}?q={SEARCH}"))
    return found


def time_pages(users: dict[str, Any]) -> dict[str, dict]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from framework.memory import freeze_long_lived

    repeat = int(os.environ.get("BENCH_SCALE_REPEAT", "15"))
    only = [p.strip() for p in os.environ.get("BENCH_SCALE_ONLY", "").split(",") if p.strip()]
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    results: dict[str, dict] = {}
    for label, who, url in pages(users):
        if only and not any(label.startswith(prefix) for prefix in only):
            continue
        client = clients[who]
        entry: dict[str, Any] = {"url": url}
        try:
            if url.startswith("deep:"):
                _, page, base = url.split(":", 2)
                url = entry["url"] = deep_url(client, base, int(page))
            start = time.perf_counter()
            response = client.get(url)  # warm-up: templates, caches, the coder's suggestions
            first = time.perf_counter() - start
            freeze_long_lived()  # what a warm gunicorn worker has done (framework/memory.py)
            entry["status"] = response.status_code
            # Table rows on the page, header rows included: a page that is not full at 1× does less work.
            entry["rows"] = response.content.count(b"<tr")
            runs = 1 if first > 20 else 3 if first > 2 else repeat
            client.get(url)
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            entry["p50"] = statistics.median(timings)
            entry["p95"] = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            entry["runs"] = runs
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            entry["queries"] = len(ctx.captured_queries)
            slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]), default=None)
            if slowest is not None and slowest["sql"].lstrip().upper().startswith("SELECT"):
                entry["slowest_ms"] = float(slowest["time"]) * 1000
                entry["slowest_sql"] = slowest["sql"]
                if os.environ.get("BENCH_SCALE_EXPLAIN", "1") != "0":
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
                        entry["explain"] = "\n".join(row[0] for row in cursor.fetchall())
        except Exception as exc:  # noqa: BLE001 - a page that fails is reported, the others still run
            entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
            connection.close()
        results[label] = entry
        log(f"{label}: p50 {entry.get('p50', 0):.1f} ms, p95 {entry.get('p95', 0):.1f} ms, "
            f"{entry.get('queries', '?')} queries{' ' + entry['error'] if entry.get('error') else ''}")
    return results


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.db.migrations.executor import MigrationExecutor

    from roles.models import Component, Decision, Role, TitleAlias

    params = json.loads(os.environ["BENCH_SCALE_PARAMS"])
    info: dict[str, Any] = {}
    if os.environ.get("BENCH_SCALE_BUILD") == "1":
        info["build_s"] = build(params["roles"], params)
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    info["migrate_s"] = time.perf_counter() - start
    info["migrations"] = [f"{m.app_label}.{m.name}" for m, _ in plan]
    if plan:
        log(f"migrated {', '.join(info['migrations'])} in {info['migrate_s']:.1f} s")
        vacuum()
    call_command("build_coder", verbosity=0)
    connection_created.connect(_statement_timeout)
    connection.close()
    info.update(
        roles=Role.objects.count(), aliases=TitleAlias.objects.count(), pending=TitleAlias.objects.pending().count(),
        components=Component.objects.count(), decisions=Decision.objects.count(),
    )
    found = users()
    results = time_pages(found)
    print(json.dumps({"info": info, "pages": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
