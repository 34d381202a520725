"""Set-up shared by the benchmarks: a throwaway database, the reference data, the demo data set.

Typical use in `bench/bench_<name>.py`::

    from bench.common import demo_data, fresh_database, timed

    def run() -> None:
        with fresh_database():
            summary = demo_data()              # 1,016 roles at O*NET scale
            with timed("export", rows=summary.aliases):
                ...

`fresh_database()` works the same on SQLite (settings: framework.settings.bench) and on
PostgreSQL (DATABASE_URL): it creates a test database through Django's own test set-up,
migrates it, loads the SOC 2018 and O*NET-SOC 2019 reference rows, and drops it afterwards,
also when the benchmark fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import setup_databases, teardown_databases

REFERENCE_FIXTURES = ("fixtures/soc2018.json", "fixtures/onet_soc_2019.json")


def _private_test_name(connection) -> str:
    """A database name of this process's own, so two benchmarks running at once never share one."""
    if connection.vendor == "sqlite":
        folder = Path(settings.BASE_DIR) / ".bench"
        folder.mkdir(exist_ok=True)
        _remove_stale_files(folder)
        return str(folder / f"bench-{os.getpid()}.sqlite3")
    return f"test_{connection.settings_dict['NAME']}_bench_{os.getpid()}"


def _remove_stale_files(folder: Path) -> None:
    """Delete SQLite files left by benchmark processes that died before their teardown."""
    for path in folder.glob("bench-*.sqlite3*"):
        pid = path.name.split(".", 1)[0].removeprefix("bench-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            pass  # Alive, under another account.


@contextmanager
def fresh_database(*, reference: bool = True, verbosity: int = 0) -> Iterator[None]:
    """Run the block against an empty, migrated database holding only the reference data.

    The database is dropped (the SQLite file deleted) on the way out, even after an error.
    Pass reference=False to skip the 2,463 SOC/O*NET rows.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved_test_name = test_settings.get("NAME")
    test_settings["NAME"] = _private_test_name(connection)
    # Runs migrations, replacing any database of that name left over from a crashed run.
    old_config = setup_databases(
        verbosity=verbosity, interactive=False, aliases={DEFAULT_DB_ALIAS}, serialized_aliases=set()
    )
    try:
        if reference:
            base = Path(settings.BASE_DIR)
            call_command("loaddata", *(str(base / f) for f in REFERENCE_FIXTURES), verbosity=0)
        yield
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=verbosity)
        test_settings["NAME"] = saved_test_name


def demo_data(
    *,
    roles: int = 1016,
    aliases_per_role: int = 55,
    components_per_role: int = 40,
    seed: int = 42,
    approve_fraction: float = 0.0,
    actor: Any = None,
    quiet: bool = True,
):
    """Fill the current database with `demo.generator.generate_demo` data and return its DemoSummary.

    Defaults give the O*NET-scale data set (≈56k aliases, ≈40k components). The actor defaults
    to the system user. Progress goes to stdout unless quiet.
    """
    import sys

    from demo.generator import generate_demo
    from framework.audit import get_system_user

    return generate_demo(
        roles=roles,
        aliases_per_role=aliases_per_role,
        components_per_role=components_per_role,
        seed=seed,
        approve_fraction=approve_fraction,
        actor=actor if actor is not None else get_system_user(),
        stdout=None if quiet else sys.stdout,
    )


@contextmanager
def timed(label: str, *, rows: int | None = None) -> Iterator[dict[str, float]]:
    """Print how long the block took (and rows/s when `rows` is given); yields {"seconds": …}."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = seconds = time.perf_counter() - start
        rate = f", {rows / seconds:,.0f} rows/s" if rows and seconds > 0 else ""
        print(f"{label}: {seconds:.2f} s{rate}", flush=True)
