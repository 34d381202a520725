"""`manage.py refresh_derived [--all]`: bring the derived rows (alias flags, role digests) up to date.

Without --all it works off what writes left in the queue (normally done right after each
commit); --all recomputes every row, e.g. after changing REVIEW_LEVEL_WORDS or the confidence
bands (migrate does that by itself when it sees they changed).
"""

from django.core.management.base import BaseCommand

from roles import derived


class Command(BaseCommand):
    help = "Recompute stale derived rows (alias flags, role digests); --all recomputes every one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="Recompute every row, not only the stale ones.")

    def handle(self, *args, all: bool = False, **options) -> None:
        if all:
            count = derived.rebuild_all(stdout=self.stdout)
            self.stdout.write(f"Derived data rebuilt for {count:,} roles.")
        done = derived.process_queue()
        self.stdout.write(f"{done:,} stale entries recomputed." if done or not all else "Nothing else was stale.")
