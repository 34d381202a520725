"""The daily review digest: to reviewers who opted in, once per day each, with counts per family."""

from datetime import date
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from notifications.models import DigestSent, Event, Notification, NotificationPreference

pytestmark = pytest.mark.django_db


def _digest(day="2026-03-02"):
    out = StringIO()
    call_command("send_review_digest", "--date", day, stdout=out)
    return out.getvalue()


def test_the_digest_goes_once_per_day_to_each_reviewer_who_opted_in(people, make_alias, make_mapping):
    make_alias(people["carl"], "Data Wrangler")
    make_alias(people["carl"], "Data Janitor")
    make_mapping(people["carl"])
    for name in ("rita", "carl"):  # carl opts in but is no reviewer: nothing for him
        NotificationPreference.objects.create(user=people[name], daily_digest=True)

    assert "1 sent, 0 already sent today" in _digest()
    (message,) = mail.outbox
    assert message.to == ["rita@example.org"]
    assert "3 items waiting" in message.subject
    assert ": 2 aliases, 1 mappings" in message.body
    assert "Waiting longest: the alias “Data Wrangler”" in message.body
    assert Notification.objects.get(recipient=people["rita"]).event == Event.DIGEST

    assert "0 sent, 1 already sent today" in _digest()  # a second run the same day sends nothing
    assert len(mail.outbox) == 1
    assert "1 sent" in _digest("2026-03-03")  # the next day, again
    assert len(mail.outbox) == 2
    assert DigestSent.objects.filter(user=people["rita"]).count() == 2


def test_a_failed_send_is_tried_again_on_the_next_run(people, make_alias, monkeypatch):
    from notifications import services

    make_alias(people["carl"])
    NotificationPreference.objects.create(user=people["rita"], daily_digest=True)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(services, "send_mail", refuse)
    with pytest.raises(Exception, match="could not be sent"):
        _digest()
    assert not DigestSent.objects.exists() and not Notification.objects.exists()
    monkeypatch.undo()
    assert "1 sent" in _digest()


def test_a_bad_date_is_named():
    with pytest.raises(Exception, match="--date '2026-13-01': use YYYY-MM-DD"):
        call_command("send_review_digest", "--date", "2026-13-01")


def test_digest_day_defaults_to_today(people):
    NotificationPreference.objects.create(user=people["rita"], daily_digest=True)
    call_command("send_review_digest", stdout=StringIO())
    assert DigestSent.objects.get().day == date.today()


def test_a_reviewers_digest_leaves_out_what_they_wrote_as_the_dashboard_does(people, make_alias, make_mapping):
    """Four-eyes keeps a reviewer from deciding what they authored: created it, or edited its content."""
    from decimal import Decimal

    from roles.models import TitleAlias
    from roles.services import save_alias

    edited = make_alias(people["carl"], "Data Janitor")
    make_alias(people["rita"], "Data Plumber")
    make_alias(people["carl"], "Data Wrangler")
    make_mapping(people["carl"])
    edited = TitleAlias.objects.get(pk=edited.pk)
    edited.confidence = Decimal("0.75")
    save_alias(alias=edited, actor=people["rita"], reason="seen in job ads")
    for name in ("rita", "ravi"):
        NotificationPreference.objects.create(user=people[name], daily_digest=True)

    assert "2 sent" in _digest()
    messages = {message.to[0]: message for message in mail.outbox}
    # rita: neither the alias she edited nor the one she created, which wait longest.
    assert "2 items waiting" in messages["rita@example.org"].subject
    assert ": 1 aliases, 1 mappings" in messages["rita@example.org"].body
    assert "Waiting longest: the alias “Data Wrangler”" in messages["rita@example.org"].body
    assert "4 items waiting" in messages["ravi@example.org"].subject
    assert ": 3 aliases, 1 mappings" in messages["ravi@example.org"].body
    assert "Waiting longest: the alias “Data Janitor”" in messages["ravi@example.org"].body
