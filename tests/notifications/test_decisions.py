"""Review decisions tell the item's authors: in the same transaction, by email only after commit."""

import logging

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from notifications.models import Event, Notification, NotificationPreference
from notifications.services import notify_decided
from review.services import approve_alias, reject_alias, reject_aliases, reject_mapping
from roles.models import TitleAlias

pytestmark = pytest.mark.django_db


def test_a_rejection_notifies_the_creator_with_item_reviewer_and_reason_and_emails_on_commit_only(
    people, make_alias, django_capture_on_commit_callbacks
):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reject_alias(alias=alias, actor=people["rita"], reason="a duplicate of Data Engineer")
        note = Notification.objects.get(recipient=people["carl"])
        assert len(mail.outbox) == 0  # written in the decision's transaction, not yet sent
    assert note.event == Event.REJECTED
    assert "“Data Wrangler”" in note.title and alias.role.code in note.title
    assert note.body == "Rejected by rita: a duplicate of Data Engineer"
    assert note.url == f"/admin/roles/titlealias/{alias.pk}/change/"
    assert note.actor == people["rita"] and note.read_at is None
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carl@example.org"]
    assert "rita" in message.body and "a duplicate of Data Engineer" in message.body and "Data Wrangler" in message.body


def test_a_rolled_back_decision_writes_and_sends_nothing(people, make_alias, django_capture_on_commit_callbacks):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            reject_alias(alias=alias, actor=people["rita"], reason="wrong role")
            raise RuntimeError("the request failed after the decision")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


def test_a_mapping_rejection_names_the_role_and_code(people, make_mapping, django_capture_on_commit_callbacks):
    mapping = make_mapping(people["carl"])
    with django_capture_on_commit_callbacks(execute=True):
        reject_mapping(mapping=mapping, actor=people["rita"], reason="the wrong occupation")
    note = Notification.objects.get(recipient=people["carl"])
    assert note.title == f"Your mapping of {mapping.role.code} to 15-2051 was rejected"
    assert note.url == f"/admin/roles/classificationmapping/{mapping.pk}/change/"
    assert len(mail.outbox) == 1


def test_an_approval_is_in_the_bell_but_not_emailed_by_default(people, make_alias, django_capture_on_commit_callbacks):
    alias = make_alias(people["carl"])
    with django_capture_on_commit_callbacks(execute=True):
        approve_alias(alias=alias, actor=people["rita"])
    note = Notification.objects.get(recipient=people["carl"])
    assert note.event == Event.APPROVED and note.title.endswith("was approved")
    assert mail.outbox == []


def test_preferences_turn_each_channel_off(people, make_alias, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=people["carl"], rejected_email=False, rejected_in_app=True)
    NotificationPreference.objects.create(user=people["ravi"], rejected_email=True, rejected_in_app=False)
    mine, ravis = make_alias(people["carl"], "Alias One"), make_alias(people["ravi"], "Alias Two")
    with django_capture_on_commit_callbacks(execute=True):
        reject_alias(alias=mine, actor=people["rita"], reason="no")
        reject_alias(alias=ravis, actor=people["rita"], reason="no")
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["carl"]
    assert [m.to for m in mail.outbox] == [["ravi@example.org"]]


def test_nobody_is_told_of_their_own_decision_nor_is_the_system_account(people, make_alias, role):
    from framework.audit import get_system_user

    own = make_alias(people["rita"], "Own Alias")
    system = make_alias(get_system_user(), "System Alias")
    reject_alias(alias=own, actor=people["rita"], reason="withdrawn")
    reject_alias(alias=system, actor=people["rita"], reason="no")
    assert not Notification.objects.exists()


def test_a_bulk_rejection_costs_the_same_queries_for_n_and_2n_items_and_one_email_per_recipient(
    people, make_alias, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(n):
        aliases = [make_alias(people["carl"], f"Bulk {n} {i}") for i in range(n)]
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as ctx:
            reject_aliases(aliases=[a.pk for a in aliases], actor=people["rita"], reason="duplicates")
        return len(ctx.captured_queries), len(mail.outbox)

    cost(2)  # warms the reviewer's permission cache
    small, large = cost(20), cost(40)
    assert small == large  # same number of queries, and one email each time
    assert small[1] == 1
    assert Notification.objects.filter(recipient=people["carl"], event=Event.REJECTED).count() == 62
    assert "40 of your items were rejected" in mail.outbox[0].subject


def test_notify_decided_ignores_kinds_nobody_is_told_of(people, make_alias, django_assert_num_queries):
    alias = make_alias(people["carl"])
    with django_assert_num_queries(0):
        assert notify_decided(TitleAlias, items=[alias], kind="reopen", actor=people["rita"], reason="x") == []


def test_every_decision_logs_one_line_naming_it_once_committed(
    people, make_alias, caplog, django_capture_on_commit_callbacks
):
    alias = make_alias(people["carl"])
    with caplog.at_level(logging.INFO, logger="rolebook.review"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            reject_alias(alias=alias, actor=people["rita"], reason="duplicate")
        assert [r for r in caplog.records if r.name == "rolebook.review"] == []
        for callback in callbacks:
            callback()
    (record,) = [r for r in caplog.records if r.name == "rolebook.review"]
    assert record.getMessage() == "reject the alias “Data Wrangler” → rejected by rita"
    assert record.item_ids == [alias.pk] and record.item_type == "alias" and record.actor_id == people["rita"].pk
    assert record.reason == "duplicate"


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_refuses_never_undoes_or_breaks_a_committed_decision(people, make_alias, settings, caplog):
    settings.EMAIL_BACKEND = "tests.notifications.test_decisions.RefusingBackend"
    alias = make_alias(people["carl"])
    with caplog.at_level(logging.ERROR):
        reject_alias(alias=alias, actor=people["rita"], reason="no")  # commits: the email callback runs and fails
    assert TitleAlias.objects.get(pk=alias.pk).status == "rejected"
    assert Notification.objects.filter(recipient=people["carl"]).count() == 1
    assert any("send_event_email" in r.getMessage() for r in caplog.records)


# -- every author is told: the creator and everyone who edited the content ----------------------


def _edit(alias, actor, confidence):
    """`actor` changes the alias's confidence through the curators' service, so becomes one of its authors."""
    from decimal import Decimal

    from roles.services import save_alias

    alias = TitleAlias.objects.get(pk=alias.pk)
    alias.confidence = Decimal(confidence)
    return save_alias(alias=alias, actor=actor, reason="seen in job ads")


@pytest.fixture
def editors(people):
    from tests.factories import curator

    return {"cleo": curator(username="cleo"), "cody": curator(username="cody")}


def test_a_decision_tells_the_creator_and_each_content_editor_once(
    people, editors, make_alias, django_capture_on_commit_callbacks
):
    alias = make_alias(people["carl"])
    _edit(alias, editors["cleo"], "0.71")
    _edit(alias, editors["cody"], "0.72")
    _edit(alias, editors["cleo"], "0.73")  # twice an editor, still told once
    with django_capture_on_commit_callbacks(execute=True):
        reject_alias(alias=alias, actor=people["rita"], reason="a duplicate")
    told = sorted(Notification.objects.values_list("recipient__username", flat=True))
    assert told == ["carl", "cleo", "cody"]
    assert Notification.objects.get(recipient=people["carl"]).title.startswith("Your alias “Data Wrangler”")
    edited = Notification.objects.get(recipient=editors["cleo"])
    assert edited.title == f"The alias “Data Wrangler” of {alias.role.code}, which you edited, was rejected"
    assert edited.body == "Rejected by rita: a duplicate" and edited.actor == people["rita"]
    assert sorted(m.to[0] for m in mail.outbox) == ["carl@example.org", "cleo@example.org", "cody@example.org"]


def test_the_decider_is_never_told_even_as_an_author_of_another_item_in_the_batch(
    people, editors, make_alias, django_capture_on_commit_callbacks
):
    first, second = make_alias(people["carl"], "Alias One"), make_alias(people["carl"], "Alias Two")
    _edit(second, people["rita"], "0.71")  # the decider wrote part of the second alias
    _edit(first, editors["cleo"], "0.72")
    with django_capture_on_commit_callbacks(execute=True):
        reject_aliases(aliases=[first.pk, second.pk], actor=people["rita"], reason="duplicates")
    assert not Notification.objects.filter(recipient=people["rita"]).exists()
    assert Notification.objects.filter(recipient=people["carl"]).count() == 2
    assert Notification.objects.filter(recipient=editors["cleo"]).count() == 1
    assert "rita@example.org" not in [address for m in mail.outbox for address in m.to]


def test_each_authors_own_preferences_decide_what_they_get(
    people, editors, make_alias, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(user=editors["cody"], rejected_in_app=False, rejected_email=False)
    NotificationPreference.objects.create(user=editors["cleo"], rejected_in_app=True, rejected_email=False)
    alias = make_alias(people["carl"])
    _edit(alias, editors["cleo"], "0.71")
    _edit(alias, editors["cody"], "0.72")
    with django_capture_on_commit_callbacks(execute=True):
        reject_alias(alias=alias, actor=people["rita"], reason="no")
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["carl", "cleo"]
    assert [m.to for m in mail.outbox] == [["carl@example.org"]]


def test_a_bulk_decision_tells_every_author_for_the_same_queries_at_n_and_2n_items(
    people, editors, make_alias, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(n):
        aliases = [make_alias(people["carl"], f"Bulk {n} {i}") for i in range(n)]
        for i, alias in enumerate(aliases):
            _edit(alias, editors["cleo"], "0.71")
            if i % 2:
                _edit(alias, editors["cody"], "0.72")
        Notification.objects.all().delete()
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as ctx:
            reject_aliases(aliases=[a.pk for a in aliases], actor=people["rita"], reason="duplicates")
        told = dict.fromkeys(("carl", "cleo", "cody"), 0)
        for name in Notification.objects.values_list("recipient__username", flat=True):
            told[name] += 1
        assert told == {"carl": n, "cleo": n, "cody": n // 2}
        assert sorted(m.to[0] for m in mail.outbox) == ["carl@example.org", "cleo@example.org", "cody@example.org"]
        return len(ctx.captured_queries)

    cost(2)  # warms the reviewer's permission cache
    # The notifications' share: one SELECT of the recipients with their preferences, one of the
    # role codes, one INSERT of the notifications, whatever the number of items and authors.
    assert cost(10) == cost(20)
