"""A settled double-blind sample tells its reviewers the outcome, in the bell."""

import pytest

from notifications.models import Event, Notification, NotificationPreference
from review.services import adjudicate, approve_alias, reject_alias
from roles.models import Sample, TitleAlias

pytestmark = pytest.mark.django_db


@pytest.fixture
def sampled(settings, people, make_alias):
    settings.REVIEW_SAMPLE_SHARE = 1.0
    alias = make_alias(people["carl"])
    approve_alias(alias=alias, actor=people["rita"])
    return TitleAlias.objects.get(pk=alias.pk)


def test_an_agreeing_second_review_tells_the_first_reviewer(people, sampled):
    approve_alias(alias=sampled, actor=people["ravi"])
    note = Notification.objects.get(recipient=people["rita"], event=Event.SETTLED)
    assert "“Data Wrangler” you reviewed blind was approved: the second review agreed" in note.title
    assert note.actor == people["ravi"] and not Notification.objects.filter(recipient=people["ravi"]).exists()


def test_a_leads_settlement_tells_both_reviewers_with_the_reason(people, sampled, make_user):
    reject_alias(alias=sampled, actor=people["ravi"], reason="a tool, not a job")
    assert not Notification.objects.filter(event=Event.SETTLED).exists()  # disputed: nothing settled yet
    lead = make_user("lead", username="lena")
    adjudicate(sample=Sample.objects.get(alias=sampled), actor=lead, verdict="reject", reason="ravi is right")
    notes = Notification.objects.filter(event=Event.SETTLED).order_by("recipient__username")
    assert [n.recipient.username for n in notes] == ["ravi", "rita"]
    assert all(n.body == "lena settled the disagreement: ravi is right" and "rejected by a lead" in n.title
               for n in notes)


def test_a_reviewer_who_turned_it_off_is_not_told(people, sampled):
    NotificationPreference.objects.create(user=people["rita"], settled_in_app=False)
    approve_alias(alias=sampled, actor=people["ravi"])
    assert not Notification.objects.filter(event=Event.SETTLED).exists()
