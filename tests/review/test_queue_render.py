"""The queues as written: one reverse per URL name, rows in every state, folds that load when opened, widgets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.forms.renderers import get_default_renderer
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.urls.resolvers import URLResolver

from review import services
from review.filters import AliasFilter, MappingFilter
from review.forms import ThresholdForm
from review.rendering import QUEUE_WIDGETS
from review.templatetags.queue_rows import row_url
from roles.models import ClassificationMapping, TitleAlias
from tests.factories import (
    ClassificationMappingFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
    UserFactory,
)
from tests.review.conftest import logged_in, soc

pytestmark = pytest.mark.django_db

FOLDS = ("coder", "neighbours")


def form_for(html: str, action: str) -> str:
    """The markup of the form that posts to `action` (the first one), or ""."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    return found.group(1) if found else ""


def row_of(html: str, pk: int) -> str:
    """The queue row of item `pk` (its <tr>), or ""."""
    found = re.search(rf'<tr class="item" data-id="{pk}".*?</tr>', html, re.S)
    return found.group(0) if found else ""


def reverses_while(client: Client, url: str, monkeypatch) -> int:
    """How many URLs the project reversed while answering GET `url`."""
    calls = []
    original = URLResolver._reverse_with_prefix

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(URLResolver, "_reverse_with_prefix", counted)
    try:
        assert client.get(url).status_code == 200
    finally:
        monkeypatch.setattr(URLResolver, "_reverse_with_prefix", original)
    return len(calls)


# -- one reverse per URL name --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("review:alias-approve", 7), ("review:mapping", 12), ("admin:roles_titlealias_history", 3),
     ("roles:card", "AIMLAM.GEN.P1"), ("roles:card", "A B&C é")],
)
def test_a_row_url_is_what_reverse_makes(name, value):
    assert row_url(name)(value) == reverse(name, args=[value])


def test_the_queues_reverse_as_many_urls_for_n_rows_as_for_2n(make_user, curator, reference_soc, monkeypatch):
    client = logged_in(make_user("reviewer"))
    codes = ["15-2051", "15-2041", "15-1252", "15-1211", "15-0000", "15-1200"]
    counts = {}
    for n in (3, 6):
        while TitleAlias.objects.count() < n:
            TitleAliasFactory(role=RoleFactory(), alias=f"Analyst {TitleAlias.objects.count()}", created_by=curator)
        for code in codes[ClassificationMapping.objects.count():n]:
            ClassificationMappingFactory(occupation=soc(code), created_by=curator)
        counts[n] = {kind: reverses_while(client, reverse(f"review:{kind}"), monkeypatch)
                     for kind in ("aliases", "mappings")}
    assert counts[3] == counts[6], counts


# -- the alias queue's rows ------------------------------------------------------------------------


def test_an_open_alias_row_offers_approve_and_reject_with_the_version_and_the_token(make_user, curator):
    alias = TitleAliasFactory(alias="Data Wrangler", confidence=Decimal("0.70"), created_by=curator)
    html = logged_in(make_user("reviewer")).get(reverse("review:aliases")).content.decode()
    row = row_of(html, alias.pk)
    for action in ("approve", "reject"):
        form = form_for(row, reverse(f"review:alias-{action}", args=[alias.pk]))
        assert f'name="version" value="{alias.version}"' in form
        assert re.search(r'name="csrfmiddlewaretoken" value="\w{64}"', form)
        assert 'name="next" value="/review/aliases/"' in form
    assert 'aria-label="Reason to reject “Data Wrangler”"' in row
    assert f'href="{reverse("roles:card", args=[alias.role.code])}"' in row
    assert f'href="{reverse("admin:roles_titlealias_history", args=[alias.pk])}"' in row
    assert '<span class="band-medium">medium</span> 0.70' in row and "data-cannot-approve" not in row


def test_an_alias_row_says_why_it_cannot_be_approved_and_escapes_the_alias(make_user):
    reviewer = make_user("reviewer")
    own = TitleAliasFactory(alias="<b>Mine</b> & co", created_by=reviewer)
    html = logged_in(reviewer).get(reverse("review:aliases")).content.decode()
    row = row_of(html, own.pk)
    assert "<b>Mine</b>" not in html and "&lt;b&gt;Mine&lt;/b&gt; &amp; co" in row
    assert 'data-cannot-approve="Four-eyes: ' in row and "another reviewer must approve “&lt;b&gt;Mine" in row
    assert not form_for(row, reverse("review:alias-approve", args=[own.pk]))
    assert form_for(row, reverse("review:alias-reject", args=[own.pk]))


def test_a_decided_alias_row_says_who_decided_and_offers_reopen(make_user, curator):
    alias = TitleAliasFactory(alias="Data Wrangler", created_by=curator)
    decider = make_user("reviewer", username="rhea")
    services.reject_alias(alias=alias, actor=decider, reason="not a title")
    html = logged_in(make_user("reviewer")).get(reverse("review:aliases"), {"status": "rejected"}).content.decode()
    row = row_of(html, alias.pk)
    assert "is already rejected: reopen it to decide again." in row and " by rhea</span>" in row
    reopen = form_for(row, reverse("review:alias-reopen", args=[alias.pk]))
    assert 'name="next" value="/review/aliases/?status=rejected"' in reopen and 'name="reason" required' in reopen


def test_an_alias_in_another_reviewers_batch_names_the_holder(make_user, curator):
    alias = TitleAliasFactory(alias="Data Wrangler", created_by=curator)
    logged_in(make_user("reviewer", username="hana")).post(reverse("review:alias-next"))
    html = logged_in(make_user("reviewer")).get(reverse("review:aliases"), {"held": "all"}).content.decode()
    row = row_of(html, alias.pk)
    assert "held by hana until" in row and "hana holds it until" in row and "<form" not in row


def test_a_curator_sees_alias_rows_without_decision_controls(make_user, curator):
    alias = TitleAliasFactory(alias="Data Wrangler", created_by=curator)
    html = logged_in(make_user("curator")).get(reverse("review:aliases")).content.decode()
    row = row_of(html, alias.pk)
    assert "Data Wrangler" in row and "<form" not in row and 'name="ids"' not in row


# -- the mapping queue's rows and folds ------------------------------------------------------------


def test_a_mapping_row_folds_the_coder_and_the_neighbours_behind_links_to_the_mapping_page(make_user, seed_role):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    html = logged_in(make_user("reviewer")).get(reverse("review:mappings"), {"sort": "code"}).content.decode()
    row = row_of(html, mapping.pk)
    back = "?next=/review/mappings/%3Fsort%3Dcode"
    detail = f'{reverse("review:mapping", args=[mapping.pk])}{back}'
    assert f'data-fold="{reverse("review:mapping-coder", args=[mapping.pk])}{back}"' in row
    assert f'href="{detail}#coder"' in row
    # Only the best code is on the page: its reasons and the next codes load when opened.
    assert len(re.findall(r'data-code="', row)) == 1 and "evidence-list" not in row and "<ol" not in row
    assert form_for(row, reverse("review:mapping-refine", args=[mapping.pk])), "the one-click refine stays"
    assert 'data-cannot-approve="15-0000 is a major group' in row
    assert f'<a href="{detail}" class="button primary refine">Refine…</a>' in row
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script (the Content-Security-Policy)"


def test_the_coder_fold_has_the_reasons_and_the_next_codes_with_their_refine(make_user, seed_role):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    client = logged_in(make_user("reviewer"))
    queue = "/review/mappings/?sort=code"
    response = client.get(reverse("review:mapping-coder", args=[mapping.pk]), {"next": queue})
    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert 'class="evidence-list"' in html and "Computer and Mathematical Occupations ›" in html
    assert len(re.findall(r'<li class="suggestion ', html)) == 4  # the next four: the best is on the page
    refine = re.search(r'<form method="post" action="[^"]+/refine/" class="suggestion-refine">(.*?)</form>', html, re.S)
    assert refine and f'name="next" value="{queue}"' in refine.group(1)


def test_a_fold_returns_only_to_a_path_on_this_site(make_user, seed_role):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    client = logged_in(make_user("reviewer"))
    html = client.get(reverse("review:mapping-coder", args=[mapping.pk]), {"next": "//evil.example/"}).content.decode()
    assert "evil" not in html and 'name="next" value="/review/mappings/"' in html


def test_the_neighbours_fold_lists_how_the_nearest_roles_are_mapped(make_user, curator, reference_soc):
    spec = SpecializationFactory()
    p1, p2, p3 = (RoleFactory(node=spec, level=LevelFactory(code=f"P{rank}")) for rank in (1, 2, 3))
    ClassificationMappingFactory(role=p1, occupation=soc("15-2051"), created_by=curator)
    odd = ClassificationMappingFactory(role=p2, occupation=soc("11-1011"), created_by=curator)
    client = logged_in(make_user("reviewer"))
    queue = client.get(reverse("review:mappings")).content.decode()
    assert f'data-fold="{reverse("review:mapping-neighbours", args=[odd.pk])}?next=/review/mappings/"' in queue
    html = client.get(reverse("review:mapping-neighbours", args=[odd.pk])).content.decode()
    assert f'<a href="{reverse("roles:card", args=[p1.code])}">{p1.code}</a>' in html and "15-2051" in html
    assert p3.code in html and "not mapped" in html


@pytest.mark.parametrize("part", FOLDS)
def test_a_fold_is_refused_to_anonymous_users_and_to_users_without_the_view_permission(seed_role, part):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    url = reverse(f"review:mapping-{part}", args=[mapping.pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    staff_without_a_group = logged_in(UserFactory(is_staff=True))
    assert staff_without_a_group.get(url).status_code == 403


@pytest.mark.parametrize("part", FOLDS)
def test_a_fold_is_a_get_for_anyone_who_may_view_the_queue(make_user, seed_role, part):
    mapping = ClassificationMapping.objects.get(role=seed_role)
    url = reverse(f"review:mapping-{part}", args=[mapping.pk])
    for kind in ("reviewer", "curator"):
        client = logged_in(make_user(kind))
        assert client.get(url).status_code == 200
        assert client.post(url).status_code == 405
    assert logged_in(make_user("reviewer")).get(reverse(f"review:mapping-{part}", args=[mapping.pk + 999])) \
        .status_code == 404


def test_the_desk_script_loads_the_folds():
    from django.contrib.staticfiles import finders

    script = open(finders.find("rolebook/rolebook.js"), encoding="utf-8").read()
    assert 'details[data-fold]' in script and '"toggle"' in script


# -- the filter widgets ----------------------------------------------------------------------------

ALIAS_FILTERS = [
    {},
    {"q": "<b>\"x\" & 'y'", "status": "", "band": "high", "confidence_min": "0.5", "sort": "-confidence",
     "flag": "conflict", "held": "all", "family": "AIML", "level": "P1", "role": "AIMLAM.GEN.P1"},
    {"confidence_min": "many", "band": "nope", "status": "pending"},  # errors: aria-invalid
]
MAPPING_FILTERS = [
    {},
    {"status": "", "source": "suggested", "depth": "group", "flag": "coder_disagrees", "sort": "code"},
    {"status": "bogus"},
]


@pytest.mark.parametrize(("filter_class", "data"), [(AliasFilter, d) for d in ALIAS_FILTERS]
                         + [(MappingFilter, d) for d in MAPPING_FILTERS])
def test_the_queue_widgets_write_what_djangos_widget_templates_write(rf, make_user, filter_class, data):
    request = rf.get("/")
    request.user = make_user("reviewer")
    model = TitleAlias if filter_class is AliasFilter else ClassificationMapping
    params = QueryDict(mutable=True)
    params.update(data)
    filterset = filter_class(params, queryset=model.objects.all(), request=request)
    filterset.is_valid()
    form = filterset.form
    assert len(form.fields) >= 10
    for field in form:
        form.renderer = get_default_renderer()
        stock = field.as_widget()
        form.renderer = QUEUE_WIDGETS
        assert field.as_widget() == stock, field.name


@pytest.mark.parametrize("value", [None, "0.80", "x"])
def test_the_threshold_box_is_written_as_django_writes_it(value):
    stock = ThresholdForm({"threshold": value} if value else None, initial={"threshold": Decimal("0.80")})
    ours = ThresholdForm({"threshold": value} if value else None, initial={"threshold": Decimal("0.80")},
                         renderer=QUEUE_WIDGETS)
    for name in ThresholdForm.base_fields:
        assert str(ours[name]) == str(stock[name]), name
