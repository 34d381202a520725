"""`manage.py send_review_digest [--date YYYY-MM-DD]`: the daily digest to every reviewer who opted in.

Run it once a day from cron; running it again the same day sends nothing twice (one
DigestSent row per reviewer and day).
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications import selectors, services


class Command(BaseCommand):
    help = "Email each reviewer who opted in the work waiting for review (at most once per day)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", dest="day_text", help="The digest's day (default: today, UTC), YYYY-MM-DD.")

    def handle(self, *args, day_text: str | None = None, **options) -> None:
        day = self._day(day_text)
        sent = skipped = failed = 0
        for user in selectors.digest_recipients():
            try:
                if services.send_digest(user=user, day=day):
                    sent += 1
                else:
                    skipped += 1
            except OSError as exc:  # SMTP refused or unreachable: the others still get theirs.
                failed += 1
                self.stderr.write(f"{user.get_username()}: not sent ({exc}); the next run tries again.")
        self.stdout.write(f"Review digest for {day}: {sent} sent, {skipped} already sent today, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} digest(s) could not be sent.")

    @staticmethod
    def _day(text: str | None) -> date:
        if not text:
            return timezone.now().date()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--date {text!r}: use YYYY-MM-DD.") from None
