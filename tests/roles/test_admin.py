"""The curators' admin: access, audited edits, read-only review fields, constant queries."""

import itertools

import pytest
from django.urls import reverse

from roles.models import Role, TitleAlias
from tests.admin_forms import change_form_data
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    LevelFactory,
    RoleFactory,
    TitleAliasFactory,
    UserFactory,
    curator,
    reviewer,
)

pytestmark = pytest.mark.django_db


CHANGELISTS = [
    "admin:roles_role_changelist",
    "admin:roles_titlealias_changelist",
    "admin:roles_classificationmapping_changelist",
    "admin:roles_component_changelist",
    "admin:taxonomy_level_changelist",
    "admin:taxonomy_taxonomynode_changelist",
    "admin:taxonomy_occupationcode_changelist",
]


@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_changelists_open_for_a_curator(curator_client, url_name):
    assert curator_client.get(reverse(url_name)).status_code == 200


@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_changelists_refuse_anonymous_users(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_reviewer_can_view_but_not_change_roles(client, groups, seed_role):
    client.force_login(reviewer())
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b'name="title"' not in response.content
    assert client.post(url, {"title": "Hacked"}).status_code == 403


def test_seed_role_change_page_shows_every_part_of_the_card(curator_client, seed_role):
    response = curator_client.get(reverse("admin:roles_role_change", args=[seed_role.pk]))
    content = response.content.decode()
    assert "Implementing small components of ML models or data pipelines" in content
    assert "Entry-Level AI/ML Engineer" in content
    assert "Associate Statistical Modeling" in content
    assert "15-0000" in content
    assert "Monitor and refine models continuously" in content


def test_admin_edit_records_user_reason_and_changed_fields(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    data = change_form_data(curator_client.get(url), title="Junior AI/ML Engineer", change_reason="align title with HR")
    response = curator_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    seed_role.refresh_from_db()
    assert seed_role.title == "Junior AI/ML Engineer"
    record = seed_role.history.latest()
    assert record.history_user == curator_client.user
    assert record.history_change_reason == "align title with HR"
    delta = record.diff_against(record.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("title", "Entry-Level AI/ML Engineer", "Junior AI/ML Engineer")
    ]


def test_history_page_shows_old_and_new_values(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    curator_client.post(url, change_form_data(curator_client.get(url), title="Renamed", change_reason="why not"))
    page = curator_client.get(reverse("admin:roles_role_history", args=[seed_role.pk])).content.decode()
    assert "Entry-Level AI/ML Engineer" in page and "Renamed" in page and "why not" in page


def test_admin_edit_needs_a_reason(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    data = change_form_data(curator_client.get(url), title="No reason given")
    data.pop("change_reason", None)
    response = curator_client.post(url, data)
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors
    seed_role.refresh_from_db()
    assert seed_role.title == "Entry-Level AI/ML Engineer"


def test_saving_an_unchanged_role_writes_no_history(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    before = (Role.history.count(), TitleAlias.history.count())
    curator_client.post(url, change_form_data(curator_client.get(url), change_reason="just looking"))
    assert (Role.history.count(), TitleAlias.history.count()) == before


def test_inline_alias_edit_is_audited_and_tracked_for_four_eyes(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    data = change_form_data(curator_client.get(url), change_reason="fix confidence")
    alias = seed_role.aliases.order_by("pk").first()
    data["aliases-0-confidence"] = "0.75"
    assert curator_client.post(url, data).status_code == 302
    alias.refresh_from_db()
    assert alias.confidence == pytest.approx(0.75)
    assert alias.content_changed_by == curator_client.user
    record = alias.history.latest()
    assert (record.history_user, record.history_change_reason) == (curator_client.user, "fix confidence")


def test_review_fields_cannot_be_set_through_the_admin_even_with_a_crafted_post(curator_client, seed_role):
    alias = seed_role.aliases.order_by("pk").first()
    url = reverse("admin:roles_titlealias_change", args=[alias.pk])
    data = change_form_data(curator_client.get(url), change_reason="sneaky")
    data.update(status="approved", decided_by=str(curator_client.user.pk), decided_at="2026-01-01 00:00:00")
    curator_client.post(url, data)
    alias.refresh_from_db()
    assert (alias.status, alias.decided_by, alias.decided_at) == ("pending", None, None)

    role_url = reverse("admin:roles_role_change", args=[seed_role.pk])
    data = change_form_data(curator_client.get(role_url), change_reason="sneaky")
    data.update({"aliases-0-status": "approved", "mappings-0-status": "approved", "mappings-0-decided_by": "1"})
    curator_client.post(role_url, data)
    assert seed_role.aliases.filter(status="approved").count() == 0
    assert seed_role.mappings.get().status == "needs_review"


def test_unknown_soc_code_is_flagged_not_linked(curator_client, seed_role):
    url = reverse("admin:roles_classificationmapping_add")
    data = change_form_data(
        curator_client.get(url),
        role=str(seed_role.pk),
        scheme="onet_soc",
        code="15-9999",
        title="Made up",
        source="manual",
        change_reason="try a code",
    )
    assert curator_client.post(url, data).status_code == 302
    mapping = seed_role.mappings.get(code="15-9999")
    assert mapping.occupation is None
    listing = curator_client.get(reverse("admin:roles_classificationmapping_changelist") + "?in_reference=no")
    assert "15-9999" in listing.content.decode()
    assert "not in the SOC reference" in listing.content.decode()


_level_numbers = itertools.count()


def _make_rows(url_name: str, n: int) -> None:
    """Create n rows of the kind the changelist lists (each with its own role, family and level)."""
    for _ in range(n):
        if "titlealias" in url_name:
            TitleAliasFactory()
        elif "classificationmapping" in url_name:
            ClassificationMappingFactory()
        elif "component" in url_name:
            ComponentFactory()
        elif "level" in url_name:
            number = next(_level_numbers)
            LevelFactory(code=f"{'QRSTUVWXYZ'[number // 9]}{number % 9 + 1}")
        else:
            RoleFactory()


# Queries per changelist as a curator, the same at N and 2N rows:
#   session, user, SAVEPOINT (ATOMIC_REQUESTS), user permissions, group permissions,
#   [level filter's levels], the count (capped, framework.admin.ScalableChangeList, for roles,
#   aliases, mappings and components, which neither count the whole table again nor list every
#   family or source in their filters), [total count, for the small tables], the page with its
#   joins (with_related / list_select_related), the header's notifications (unread count,
#   latest), RELEASE SAVEPOINT, [the level list's DISTINCT tracks for its filter].
@pytest.mark.parametrize(
    ("url_name", "queries"),
    [
        ("admin:roles_role_changelist", 11),
        ("admin:roles_titlealias_changelist", 11),
        ("admin:roles_classificationmapping_changelist", 11),
        ("admin:roles_component_changelist", 10),
        ("admin:taxonomy_taxonomynode_changelist", 11),
        ("admin:taxonomy_level_changelist", 12),
    ],
)
def test_changelist_query_count_is_constant(django_assert_num_queries, curator_client, url_name, queries):
    _make_rows(url_name, 5)
    curator_client.get(reverse(url_name))  # warm the content-type cache
    with django_assert_num_queries(queries):
        assert curator_client.get(reverse(url_name)).status_code == 200
    _make_rows(url_name, 5)
    with django_assert_num_queries(queries):
        response = curator_client.get(reverse(url_name))
    assert response.context["cl"].result_count >= 10


def test_occupation_code_changelist_query_count(django_assert_num_queries, client):
    """2,463 reference rows, paginated.

    SAVEPOINT and RELEASE (ATOMIC_REQUESTS), session, user, filtered count, total count, page,
    the header's notifications (unread count, latest).
    """
    client.force_login(UserFactory(is_superuser=True))
    with django_assert_num_queries(9):
        assert client.get(reverse("admin:taxonomy_occupationcode_changelist")).status_code == 200


def test_plan_is_edited_one_step_per_line(curator_client, seed_role):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    page = curator_client.get(url)
    assert "Assess the specific needs and challenges faced by the organization.\n" in page.content.decode()
    data = change_form_data(page, plan="First step\n\n  Second step  \n", change_reason="shorter plan")
    assert curator_client.post(url, data).status_code == 302
    seed_role.refresh_from_db()
    assert seed_role.plan == ["First step", "Second step"]


def test_a_stale_inline_row_is_refused_and_nothing_is_saved(client, groups, seed_role):
    """The role form was opened before a reviewer approved one of its aliases: its row is stale."""
    from review.services import approve_alias

    user = curator(username="cleo")
    client.force_login(user)
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    page = client.get(url)
    alias = seed_role.aliases.get(alias="Deep Learning I")
    approve_alias(alias=alias, actor=reviewer())
    data = change_form_data(page, change_reason="nudge", title="Renamed role")
    index = next(k.split("-")[1] for k, v in data.items() if k.startswith("aliases-") and k.endswith("-id")
                 and v == str(alias.pk))
    data[f"aliases-{index}-confidence"] = "0.72"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "changed by" in response.content.decode() and "since you opened it" in response.content.decode()
    seed_role.refresh_from_db()
    alias.refresh_from_db()
    assert seed_role.title == "Entry-Level AI/ML Engineer"  # nothing of the save landed
    assert (alias.status, str(alias.confidence)) == ("approved", "0.70")


def test_an_untouched_inline_row_does_not_make_the_form_stale(client, groups, seed_role):
    from review.services import approve_alias

    client.force_login(curator(username="cleo"))
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    page = client.get(url)
    approve_alias(alias=seed_role.aliases.get(alias="Deep Learning I"), actor=reviewer())
    response = client.post(url, change_form_data(page, change_reason="retitle", title="Renamed role"))
    assert response.status_code == 302
    seed_role.refresh_from_db()
    assert seed_role.title == "Renamed role"
    assert seed_role.aliases.get(alias="Deep Learning I").status == "approved"


def _alias_row(data: dict, alias: TitleAlias) -> str:
    """The index of `alias`'s row in the role form's alias inline."""
    return next(k.split("-")[1] for k, v in data.items() if k.startswith("aliases-") and k.endswith("-id")
                and v == str(alias.pk))


def _alias_errors(response) -> dict[int, list[str]]:
    formset = next(f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "aliases")
    return {i: form.errors.get("alias", []) for i, form in enumerate(formset.forms) if form.errors.get("alias")}


def test_renaming_an_alias_to_one_the_role_has_is_a_form_error_on_that_row(curator_client, seed_role):
    """The constraint is on (role, lower(alias)) and the inline leaves out the role: the form must check it."""
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    component = seed_role.components.order_by("pk").first()
    page = curator_client.get(url)
    data = change_form_data(page, change_reason="rename", title="Renamed role")
    renamed = seed_role.aliases.get(alias="Deep Learning 1")
    index = _alias_row(data, renamed)
    data[f"aliases-{index}-alias"] = "  deep   LEARNING i "
    text_key = next(k for k, v in data.items() if k.startswith("components-") and k.endswith("-id")
                    and v == str(component.pk)).replace("-id", "-text")
    data[text_key] = "An edited component"
    response = curator_client.post(url, data)
    assert response.status_code == 200
    errors = _alias_errors(response)
    assert list(errors) == [int(index)], errors
    assert "already has the alias" in errors[int(index)][0]
    # Nothing of the save landed, and the form still holds every edit.
    seed_role.refresh_from_db()
    renamed.refresh_from_db()
    component.refresh_from_db()
    assert (seed_role.title, renamed.alias) == ("Entry-Level AI/ML Engineer", "Deep Learning 1")
    assert component.text != "An edited component"
    assert "An edited component" in response.content.decode()


@pytest.mark.parametrize("case", ["two new rows", "new row and existing", "swap", "rename onto a deleted one"])
def test_duplicate_aliases_within_one_role_form_are_caught_before_the_database(curator_client, seed_role, case):
    url = reverse("admin:roles_role_change", args=[seed_role.pk])
    data = change_form_data(curator_client.get(url), change_reason="aliases")
    total = int(data["aliases-TOTAL_FORMS"])
    first, second = (_alias_row(data, seed_role.aliases.get(alias=a)) for a in ("Deep Learning I", "Deep Learning 1"))
    new_row = {"alias_type": "common", "confidence": "0.50", "source": "manual"}
    if case == "two new rows":
        for i in (total, total + 1):
            row = {**new_row, "alias": f"Brand New{' ' * (i - total)}"}
            data.update({f"aliases-{i}-{k}": v for k, v in row.items()})
        data["aliases-TOTAL_FORMS"] = str(total + 2)
    elif case == "new row and existing":
        data.update({f"aliases-{total}-{k}": v for k, v in {**new_row, "alias": "MACHINE learning i"}.items()})
        data["aliases-TOTAL_FORMS"] = str(total + 1)
    elif case == "swap":
        # Rows are saved one at a time, so a swap would collide half-way: refused, do it in two saves.
        data[f"aliases-{first}-alias"], data[f"aliases-{second}-alias"] = "Deep Learning 1", "Deep Learning I"
    else:
        # Deleted rows go before saved ones: their aliases are free again (deleting takes a superuser).
        curator_client.force_login(UserFactory(is_staff=True, is_superuser=True))
        data[f"aliases-{first}-DELETE"] = "on"
        data[f"aliases-{second}-alias"] = "deep learning i"
    before = sorted(seed_role.aliases.values_list("alias", flat=True))
    response = curator_client.post(url, data)
    if case == "rename onto a deleted one":
        assert response.status_code == 302
        assert "deep learning i" in set(seed_role.aliases.values_list("alias", flat=True))
        return
    assert response.status_code == 200
    assert _alias_errors(response)
    assert sorted(seed_role.aliases.values_list("alias", flat=True)) == before


# -- large tables: capped counts, typed filters, searches that keep their indexes ---------------


def test_a_large_list_says_more_than_the_cap_and_never_counts_the_whole_table(curator_client, settings):
    settings.ROLEBOOK_COUNT_CAP = 3
    role = RoleFactory()
    for i in range(5):
        TitleAliasFactory(role=role, alias=f"Listed {i}")
    response = curator_client.get(reverse("admin:roles_titlealias_changelist"))
    html = response.content.decode()
    assert "more than 3 title aliases" in html
    assert response.context["cl"].show_full_result_count is False
    searched = curator_client.get(reverse("admin:roles_titlealias_changelist"), {"q": "Listed"}).content.decode()
    assert "more than 3 results" in searched


def test_family_and_source_are_typed_filters(curator_client):
    a, b = RoleFactory(), RoleFactory()
    TitleAliasFactory(role=a, alias="From a card", source="card import")
    TitleAliasFactory(role=b, alias="Typed by hand", source="manual")
    url = reverse("admin:roles_titlealias_changelist")
    page = curator_client.get(url).content.decode()
    assert 'name="family"' in page and 'name="source"' in page
    shown = lambda **params: {x.alias for x in curator_client.get(url, params).context["cl"].result_list}  # noqa: E731
    assert shown(source="CARD IMPORT") == {"From a card"}
    assert shown(family=a.node.parent.code.lower()) == {"From a card"}
    # Another filter's value rides along as a hidden field of the typed filter's form.
    page = curator_client.get(url, {"source": "manual"}).content.decode()
    assert 'type="hidden" name="source" value="manual"' in page


def test_alias_search_finds_the_text_or_the_role_code(curator_client):
    role = RoleFactory()
    other = RoleFactory()
    TitleAliasFactory(role=role, alias="Quant Wrangler")
    TitleAliasFactory(role=other, alias="Something else")
    url = reverse("admin:roles_titlealias_changelist")
    found = lambda q: {x.alias for x in curator_client.get(url, {"q": q}).context["cl"].result_list}  # noqa: E731
    assert found("wrangl") == {"Quant Wrangler"}
    assert found(other.code.lower()) == {"Something else"}


def _sampled_aliases(n, make_user):
    from django.test import override_settings

    from review import services

    creator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    with override_settings(REVIEW_SAMPLE_SHARE=1.0):
        for _ in range(n):
            services.approve_alias(alias=TitleAliasFactory(role=role, created_by=creator), actor=reviewer)


def test_the_sample_changelist_is_for_leads_in_constant_queries(django_assert_num_queries, make_user, client):
    """Samples name both reviewers before they settle: leads only. Queries as a lead (11): session,
    user, SAVEPOINT, user and group permissions, the count and the total, the page with items and
    reviewers, RELEASE SAVEPOINT, the header's notifications (unread count, latest)."""
    url = reverse("admin:roles_sample_changelist")
    client.force_login(make_user("reviewer"))
    assert client.get(url).status_code == 403
    client.force_login(make_user("lead"))
    _sampled_aliases(3, make_user)
    client.get(url)
    with django_assert_num_queries(11) as first:
        assert client.get(url).status_code == 200
    _sampled_aliases(3, make_user)
    with django_assert_num_queries(len(first.captured_queries)):
        response = client.get(url)
    assert response.context["cl"].result_count == 6
