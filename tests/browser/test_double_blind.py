"""Double-blind samples in a real Chromium: a first review drawn, a blind second review that
disagrees, and the lead who sees both and settles it."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from roles.groups import LEAD_REVIEWERS, REVIEWERS, sync_groups
from roles.models import Sample, SampleState, TitleAlias
from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

ALIAS = "Machine Learning I"


def alias_row(page, text):
    return page.locator("tr.item").filter(has=page.locator(".alias-text", has_text=re.compile(rf"^{re.escape(text)}$")))


def test_a_disagreement_reaches_the_lead_who_settles_it(browser, live_server, seed_role, settings):
    settings.REVIEW_SAMPLE_SHARE = 1.0  # every decision drawn: the first review below is blind
    sync_groups(Group, Permission)
    for name in ("rita", "rex"):
        UserFactory(username=name, groups=[REVIEWERS])
    UserFactory(username="lena", groups=[LEAD_REVIEWERS])
    contexts = {who: browser.new_context(viewport={"width": 1280, "height": 900}) for who in ("rita", "rex", "lena")}
    try:
        pages = {who: context.new_page() for who, context in contexts.items()}
        for who, page in pages.items():
            login(page, live_server, who)
        queue = f"{live_server.url}/review/aliases/?role=AIMLAM.GEN.P1"

        # Rita approves: her decision is drawn, recorded blind, and the row stays open for someone else.
        rita = pages["rita"]
        rita.goto(queue)
        alias_row(rita, ALIAS).locator("button.approve").click()
        expect(rita.locator("#messages")).to_contain_text("Drawn for a second, blind review")
        expect(alias_row(rita, ALIAS).locator(".row-status")).to_contain_text("Drawn for a second review")
        rita.goto(queue)
        expect(alias_row(rita, ALIAS)).to_have_count(0)  # hers is given; it is not hers to decide again

        # Rex sees the alias as any other open one, and nothing of Rita's decision.
        rex = pages["rex"]
        rex.goto(f"{live_server.url}/review/decisions/")
        expect(rex.locator("#decisions")).not_to_contain_text(ALIAS)
        rex.goto(queue)
        row = alias_row(rex, ALIAS)
        row.locator("input[name=reason]").fill("a course name, not a job title")
        row.locator("button.reject").click()
        expect(rex.locator("#messages")).to_contain_text("differs from the first, blind review")

        sample = Sample.objects.get(alias__alias=ALIAS, alias__role=seed_role)
        assert sample.state == SampleState.DISPUTED
        assert TitleAlias.objects.get(pk=sample.alias_id).status == "pending"

        # Lena, a lead, finds it from the dashboard, reads both reviews and settles it with a reason.
        lena = pages["lena"]
        lena.goto(f"{live_server.url}/review/")
        lena.click("#adjudicate-link")
        dispute = lena.locator(f"#sample-{sample.pk}")
        expect(dispute).to_contain_text("rita: Approve")
        expect(dispute).to_contain_text("rex: Reject")
        expect(dispute).to_contain_text("a course name, not a job title")
        dispute.locator("textarea[name=reason]").fill("Rex is right: it names a course")
        dispute.get_by_role("button", name="Side with rex: Reject").click()
        expect(lena.locator("#messages")).to_contain_text("the disagreement is settled")
        expect(lena.locator("#disputes")).to_contain_text("No disagreements wait")

        alias = TitleAlias.objects.get(pk=sample.alias_id)
        assert alias.status == "rejected" and alias.decided_by.username == "lena"
        assert Sample.objects.get(pk=sample.pk).state == SampleState.ADJUDICATED
        # Settled: Rex now sees the whole record, Rita's review and Lena's reason included.
        rex.goto(f"{live_server.url}/review/decisions/")
        expect(rex.locator("#decisions")).to_contain_text("Rex is right: it names a course")
        expect(rex.locator("#decisions")).to_contain_text("Blind review (in a sample): approved")
    finally:
        for context in contexts.values():
            context.close()
