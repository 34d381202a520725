"""export_approved against dumpdata --natural-foreign --natural-primary, on the O*NET-scale demo data.

Both commands run in a subprocess of their own on the same database, so each one's peak RSS
is measured alone (its own VmHWM from /proc, else os.wait4's rusage) and its queries are counted (a small
wrapper installs connection.execute_wrapper before calling the command). Printed: wall time
of the command itself and of the whole process, peak RSS, query count, and the ratios
(target: export ≥10× faster than dumpdata, peak RSS no higher). On PostgreSQL a bare
``COPY (SELECT …) TO STDOUT`` of the export's own queries is timed as the floor.

Then the release is loaded with stock loaddata into the emptied database and exported again:
the fixture files must be byte-identical (set BENCH_EXPORT_ROUNDTRIP=0 to skip this step).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from bench.common import demo_data, fresh_database

DEMO = {"roles": 1016, "aliases_per_role": 55, "components_per_role": 40, "seed": 42, "approve_fraction": 0.8}
DUMPDATA_MODELS = (
    "roles.Role", "roles.Component", "roles.TitleAlias", "roles.ClassificationMapping",
    "taxonomy.Level", "taxonomy.TaxonomyNode", "taxonomy.OccupationCode",
)

# Runs one management command against the benchmark database, counting its queries.
# argv: database NAME, result file, command and its arguments.
WRAPPER = """
import json, os, sys, time
import django
django.setup()
from django.core.management import call_command
from django.db import connections
conn = connections["default"]
conn.close()
conn.settings_dict["NAME"] = sys.argv[1]
count = 0
def counter(execute, sql, params, many, context):
    global count
    count += 1
    return execute(sql, params, many, context)
with conn.execute_wrapper(counter):
    start = time.perf_counter()
    call_command(*sys.argv[3:])
    seconds = time.perf_counter() - start
peak_kib = None
try:
    # VmHWM: this program's own high-water mark since exec.
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
with open(sys.argv[2], "w") as out:
    json.dump({"queries": count, "seconds": seconds, "peak_kib": peak_kib}, out)
"""


def _run_command(*args: str) -> dict[str, float]:
    """Run a management command in a child process; return its seconds, wall, queries and peak RSS."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "framework.settings.bench"))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as result_file:
        result_path = result_file.name
    try:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, str(connection.settings_dict["NAME"]), result_path, *args],
            cwd=settings.BASE_DIR,
            env=env,
        )
        # wait4 gives this child's own rusage, not the largest child's so far. Its ru_maxrss
        # still counts the parent's pages from before exec, so /proc's VmHWM is preferred.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"{args[0]} failed with exit code {child.returncode}")
        with open(result_path) as handle:
            result = json.load(handle)
    finally:
        os.unlink(result_path)
    if result.get("peak_kib"):
        rss_mib = result["peak_kib"] / 1024
    else:  # no /proc: ru_maxrss, in KiB on Linux and in bytes on macOS
        rss_mib = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return {"seconds": result["seconds"], "wall": wall, "queries": result["queries"], "rss_mib": rss_mib}


def _copy_floor() -> tuple[float, int]:
    """Time COPY (SELECT …) TO STDOUT of the export's own queries; return (seconds, bytes)."""
    import psycopg

    from publishing.formats.fixtures import export_querysets

    statements = []
    with connection.cursor() as cursor:
        raw = cursor.connection
        for _part, queryset in export_querysets():
            sql, params = queryset.query.get_compiler(connection=connection).as_sql()
            statements.append(psycopg.ClientCursor(raw).mogrify(sql, params))
        start = time.perf_counter()
        size = 0
        for statement in statements:
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT") as copy:
                for block in copy:
                    size += len(block)
        return time.perf_counter() - start, size


def _fixture_bytes(directory: Path) -> dict[str, bytes]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return {name: (directory / name).read_bytes() for name in manifest["load_order"]}


def _print_row(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<10} {r['seconds']:8.2f} s command  {r['wall']:8.2f} s process  "
        f"{r['rss_mib']:7.1f} MiB peak RSS  {r['queries']:>8,} queries",
        flush=True,
    )


def run() -> None:
    print(f"database: {connection.vendor}", flush=True)
    with fresh_database(), tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        started = time.perf_counter()
        summary = demo_data(**DEMO)
        print(f"demo data: {summary} in {time.perf_counter() - started:.1f} s", flush=True)
        connection.close()  # the children open their own connections

        release = Path(tmp) / "release"
        export = _run_command("export_approved", "--output", str(release), "--verbosity", "0")
        dump = _run_command(
            "dumpdata", "--natural-foreign", "--natural-primary", *DUMPDATA_MODELS,
            "--output", str(Path(tmp) / "dumpdata.json"), "--verbosity", "0",
        )
        manifest = json.loads((release / "manifest.json").read_text())
        exported = sum(manifest["counts"].values())
        print(f"export_approved wrote {exported:,} objects (approved only); dumpdata dumped every row", flush=True)
        _print_row("export", export)
        _print_row("dumpdata", dump)
        print(
            f"ratios (dumpdata / export): time {dump['seconds'] / export['seconds']:.1f}× "
            f"(whole process {dump['wall'] / export['wall']:.1f}×), "
            f"peak RSS {dump['rss_mib'] / export['rss_mib']:.2f}×, "
            f"queries {dump['queries'] / max(export['queries'], 1):,.0f}×  "
            f"[target: time ≥10×, RSS ≥1.00×]",
            flush=True,
        )
        fast = dump["seconds"] / export["seconds"] >= 10
        lean = export["rss_mib"] <= dump["rss_mib"]
        print(f"targets: {'met' if fast and lean else 'NOT met'} (≥10× faster: {fast}, RSS no higher: {lean})")

        if connection.vendor == "postgresql":
            seconds, size = _copy_floor()
            print(
                f"floor: COPY (SELECT …) TO STDOUT of the same rows {seconds:.2f} s ({size / 1e6:.1f} MB); "
                f"export is {export['seconds'] / seconds:.1f}× the floor",
                flush=True,
            )

        if os.environ.get("BENCH_EXPORT_ROUNDTRIP", "1") != "0":
            call_command("flush", interactive=False, verbosity=0)
            start = time.perf_counter()
            call_command("loaddata", *(str(release / n) for n in manifest["load_order"]), verbosity=0)
            load_seconds = time.perf_counter() - start
            connection.close()
            again = Path(tmp) / "again"
            _run_command("export_approved", "--output", str(again), "--verbosity", "0")
            same = _fixture_bytes(release) == _fixture_bytes(again)
            print(
                f"round trip: stock loaddata into the emptied database {load_seconds:.1f} s; "
                f"re-export byte-identical: {same}",
                flush=True,
            )
            if not same:
                raise AssertionError("Re-export after loaddata differs from the release.")
