"""Release deltas: time to compute delta/ between two O*NET-scale releases, against writing the release.

On the O*NET-scale demo data (1,016 roles, ≈45k published aliases, ≈40k components), release A is
written, then about 5% of the published rows change through the services: roles retitled,
pending aliases approved (added), approved aliases reopened (removed), components moved. Release
B is written without and then with ``since=A``; the difference is the delta's cost (computing,
writing, and applying it once to check it). Printed: both times, the delta's share, the sizes of
the delta files against the release's, and a check that ``apply_delta`` rebuilds B's CSV files
byte for byte.

``BENCH_DELTA_SCALE`` (default 1) scales the roles (0.05: 51 roles), and so every count; run
``python -m bench.bench_delta --scale 0.05`` for a quick check.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import demo_data, fresh_database

DEMO = {"roles": 1016, "aliases_per_role": 55, "components_per_role": 40, "seed": 42, "approve_fraction": 0.8}
CHANGED = 0.05


def _reviewer():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from roles.groups import REVIEWERS, sync_groups

    sync_groups(Group, Permission)
    user = get_user_model().objects.create_user("bench-delta-reviewer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=REVIEWERS))
    return get_user_model().objects.get(pk=user.pk)


def _edit(actor, fraction: float) -> dict[str, int]:
    """Change about `fraction` of the published rows through the services; return what changed."""
    from django.db import transaction
    from django.utils import timezone

    from framework.audit import update_with_history
    from review.services import approve_aliases, reopen_alias
    from roles.models import Component, Role, TitleAlias
    from roles.services import save_role

    roles = list(Role.objects.order_by("pk"))
    step = max(1, round(1 / fraction))
    for role in roles[::step]:
        role.title = f"{role.title} (revised)"
        save_role(role=role, actor=actor, reason="Benchmark: clearer title.")
    approved = list(TitleAlias.objects.approved().order_by("pk").values_list("pk", flat=True))
    share = max(1, int(len(approved) * fraction / 2))
    pending = list(TitleAlias.objects.pending().order_by("pk").values_list("pk", flat=True)[:share])
    approve_aliases(aliases=TitleAlias.objects.filter(pk__in=pending), actor=actor)
    for alias in TitleAlias.objects.filter(pk__in=approved[::step * 2][: share // 5 or 1]):
        reopen_alias(alias=alias, actor=actor, reason="Benchmark: checking it again.")
    components = list(Component.objects.order_by("pk").values_list("pk", flat=True)[::step])
    # One UPDATE and one INSERT … SELECT of history rows: the components move to the end of their kind.
    with transaction.atomic():
        list(Component.objects.select_for_update().filter(pk__in=components).values_list("pk", flat=True))
        update_with_history(Component, components, user=actor, reason="Benchmark: reordered.",
                            date=timezone.now(), position=10_000)
    return {"roles": len(roles[::step]), "aliases approved": len(pending), "aliases reopened": share // 5 or 1,
            "components moved": len(components)}


def _size(paths) -> int:
    return sum(path.stat().st_size for path in paths if path.is_file())


def run(scale: float | None = None) -> None:
    from django.db import connection

    from publishing.delta import apply_delta
    from publishing.formats.csv import COLUMNS
    from publishing.releases import write_release

    scale = scale if scale is not None else float(os.environ.get("BENCH_DELTA_SCALE", "1"))
    demo = dict(DEMO, roles=max(2, round(DEMO["roles"] * scale)))
    print(f"database: {connection.vendor}; scale {scale} ({demo['roles']:,} roles)", flush=True)
    with fresh_database(), tempfile.TemporaryDirectory(prefix="bench-delta-") as tmp:
        started = time.perf_counter()
        summary = demo_data(**demo)
        print(f"demo data: {summary} in {time.perf_counter() - started:.1f} s", flush=True)
        root = Path(tmp)
        write_release(root / "a")
        changed = _edit(_reviewer(), CHANGED)
        print("edits: " + ", ".join(f"{n:,} {what}" for what, n in changed.items()), flush=True)

        start = time.perf_counter()
        write_release(root / "b-alone")
        alone = time.perf_counter() - start
        start = time.perf_counter()
        manifest = write_release(root / "b", since=root / "a")
        with_delta = time.perf_counter() - start
        delta = with_delta - alone
        print(f"release B alone {alone:.2f} s; with CHANGES.md and delta/ {with_delta:.2f} s; "
              f"delta ≈ {delta:.2f} s ({delta / alone:.0%} of writing the release)", flush=True)

        release_files = [p for p in (root / "b").iterdir() if p.is_file()]
        delta_files = sorted((root / "b" / "delta").iterdir())
        release_size, delta_size = _size(release_files), _size(delta_files)
        print(f"sizes: release {release_size / 1e6:.2f} MB; delta/ {delta_size / 1e6:.2f} MB "
              f"({delta_size / release_size:.1%} of the release)", flush=True)
        for path in delta_files:
            entry = manifest["files"][f"delta/{path.name}"]
            size = path.stat().st_size / 1e3
            print(f"  delta/{path.name:<18} {size:10.1f} kB  {entry['count']:>8,} rows", flush=True)
        csv_size = _size(root / "b" / name for name in COLUMNS)
        csv_delta = _size(root / "b" / "delta" / name for name in COLUMNS)
        print(f"CSV only: release {csv_size / 1e6:.2f} MB, CSV delta {csv_delta / 1e6:.2f} MB "
              f"({csv_delta / csv_size:.1%})", flush=True)

        start = time.perf_counter()
        apply_delta(root / "a", root / "b" / "delta", root / "applied")
        same = all((root / "applied" / n).read_bytes() == (root / "b" / n).read_bytes() for n in COLUMNS)
        print(f"apply_delta: {time.perf_counter() - start:.2f} s; CSV files byte-identical to B: {same}", flush=True)
        if not same:
            raise AssertionError("apply_delta did not rebuild release B's CSV files.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None, help="Fraction of the O*NET-scale data (default 1).")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "framework.settings.bench")
    import django

    django.setup()
    run(options.scale)
