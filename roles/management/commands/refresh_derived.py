"""`manage.py refresh_derived [--all | --if-stale | --check]`: the derived rows (alias flags, role digests, tallies).

Without an option it works off what writes left in the queue (normally done right after each
commit). --all recomputes every row. --if-stale recomputes every row only when the stored ones
were made with another version or other settings (REVIEW_LEVEL_WORDS, the confidence bands):
`migrate` does the same, and `make serve` runs it at start-up, so a host started with changed
settings rebuilds even when it does not migrate. --check works the queue off (what follows every
commit anyway), then compares every stored row with a recompute (roles.derived.differences) and
exits with status 1 when any differs, naming the rows: what it reports is a write that marked
nothing stale. A write racing the comparison can show once, so a failing pass is run twice.
"""

from django.core.management.base import BaseCommand, CommandError

from roles import derived
from roles.models import Role, TitleAlias

# --check prints at most this many differences, then how many more there are.
SHOWN = 50


class Command(BaseCommand):
    help = (
        "Recompute stale derived rows (alias flags, role digests, tallies); --all recomputes every one, "
        "--if-stale every one when the settings changed, --check compares them with a recompute."
    )

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--all", action="store_true", help="Recompute every row, not only the stale ones.")
        mode.add_argument(
            "--if-stale", action="store_true",
            help="Recompute every row if they were made with another version or other settings (start-up).",
        )
        mode.add_argument(
            "--check", action="store_true",
            help="Write nothing but the queue's work; exit 1 naming each row that differs from a recompute.",
        )

    def handle(self, *args, all: bool = False, if_stale: bool = False, check: bool = False, **options) -> None:
        if check:
            self._check()
            return
        if if_stale:
            count = derived.rebuild_if_stale(stdout=self.stdout)
            self.stdout.write(
                "Derived data current (same version and settings)." if count is None
                else f"Derived data rebuilt for {count:,} roles (made with another version or other settings)."
            )
            return
        if all:
            count = derived.rebuild_all(stdout=self.stdout)
            self.stdout.write(f"Derived data rebuilt for {count:,} roles.")
        done = derived.process_queue()
        self.stdout.write(f"{done:,} stale entries recomputed." if done or not all else "Nothing else was stale.")

    def _check(self) -> None:
        # Queued work is not a difference yet: the after-commit step of the write that queued it
        # may simply not have run. What is left after it is a write that marked nothing stale.
        done = derived.process_queue()
        found = derived.differences()
        if found:
            # A write that commits while the rows are read shows as a difference once: look again.
            done += derived.process_queue()
            found = derived.differences()
        if not found:
            roles, aliases = Role.objects.count(), TitleAlias.objects.count()
            worked = f" ({done:,} queued entries worked off first)" if done else ""
            self.stdout.write(
                f"Derived data current: {roles:,} roles, {aliases:,} aliases and their tallies "
                f"equal a recompute{worked}."
            )
            return
        for line in found[:SHOWN]:
            self.stdout.write(line)
        if len(found) > SHOWN:
            self.stdout.write(f"… and {len(found) - SHOWN:,} more.")
        raise CommandError(
            f"{len(found):,} difference{'s' if len(found) != 1 else ''} between the derived rows and a recompute; "
            "`manage.py refresh_derived --all` rebuilds them.",
            returncode=1,
        )
