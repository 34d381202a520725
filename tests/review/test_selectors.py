"""Review selectors: permission checks, alias flags, reference lookups, what changed."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from review import selectors, services
from roles.models import TitleAlias
from roles.services import save_alias
from tests.factories import (
    ClassificationMappingFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
)
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind, expected", [("anonymous", False), ("curator", False), ("reviewer", True),
                                            ("superuser", True)])
def test_can_review(make_user, alias, detailed_mapping, kind, expected):
    user = make_user(kind) or AnonymousUser()
    assert selectors.can_review(user, alias) is expected
    assert selectors.can_review(user, detailed_mapping) is expected
    assert selectors.can_review(user, TitleAlias) is expected


def test_inactive_reviewer_cannot_review(make_user, alias):
    assert selectors.can_review(make_user("reviewer", is_active=False), alias) is False


def test_can_approve_applies_four_eyes(role, reviewer, other_reviewer):
    alias = TitleAliasFactory(role=role, created_by=reviewer)
    assert selectors.can_approve(reviewer, alias) is False
    assert selectors.can_approve(other_reviewer, alias) is True


@pytest.mark.parametrize("a, b", [
    ("Machine Learning I", "Machine Learning 1"),
    ("Machine Learning II", "machine-learning 2"),
    ("Entry-Level AI/ML Engineer", "entry level ai ml engineer"),
    ("Data Scientist.", "data scientist"),
])
def test_duplicate_key_treats_near_duplicates_alike(a, b):
    assert selectors.duplicate_key(a) == selectors.duplicate_key(b)


def test_duplicate_key_keeps_different_titles_apart():
    assert selectors.duplicate_key("Machine Learning I") != selectors.duplicate_key("Machine Learning II")
    assert selectors.duplicate_key("Data Analyst") != selectors.duplicate_key("Data Analysis")


@pytest.fixture
def flagged(make_user, reference_soc, reference_titles):
    """Two P1 roles and a P4 role whose aliases carry each flag once."""
    p1, p4 = LevelFactory(code="P1"), LevelFactory(code="P4")
    spec = SpecializationFactory()
    junior = RoleFactory(node=spec, level=p1, title="Junior Data Analyst")
    senior = RoleFactory(node=SpecializationFactory(), level=p4, title="Principal Data Scientist")
    # The senior role is approved as Data Scientists; "Accountant" is BLS's title for 13-2011.
    mapping = ClassificationMappingFactory(role=senior, occupation=soc("15-2051"), created_by=make_user("curator"))
    services.approve_mapping(mapping=mapping, actor=make_user("reviewer"))
    aliases = {
        "official": TitleAliasFactory(role=senior, alias="Accountant"),
        "same_code": TitleAliasFactory(role=senior, alias="Data Scientist"),
        "ml_i": TitleAliasFactory(role=junior, alias="Machine Learning I"),
        "ml_1": TitleAliasFactory(role=junior, alias="Machine Learning 1"),
        "lead": TitleAliasFactory(role=junior, alias="Lead Analyst"),
        "shared_a": TitleAliasFactory(role=junior, alias="Insight Analyst"),
        "shared_b": TitleAliasFactory(role=senior, alias="insight analyst"),
        "title": TitleAliasFactory(role=senior, alias="Junior Data Analyst"),
        "clean": TitleAliasFactory(role=senior, alias="Head of Modelling"),
    }
    return aliases


EXPECTED_FLAGS = {
    "official": {"reference_elsewhere"},
    "same_code": set(),
    "ml_i": {"near_duplicate"},
    "ml_1": {"near_duplicate"},
    "lead": {"level"},
    "shared_a": {"conflict"},
    "shared_b": {"conflict"},
    "title": {"role_title", "level"},
    "clean": set(),
}


def test_alias_flags_for_a_page_take_five_queries(flagged, django_assert_num_queries):
    page = list(selectors.alias_queue().filter(pk__in=[a.pk for a in flagged.values()]))
    # 1 aliases of any role with the page's texts, 2 roles titled like an alias, 3 siblings,
    # 4 official titles equal to an alias, 5 the page roles' approved detailed codes.
    with django_assert_num_queries(5):
        flags = selectors.alias_flags(page)
    for name, alias in flagged.items():
        assert {f.code for f in flags[alias.pk]} == EXPECTED_FLAGS[name], name


@pytest.mark.parametrize("flag", [code for code, _ in selectors.FLAG_CHOICES])
def test_flag_filter_agrees_with_flags_shown(flagged, flag):
    ids = [a.pk for a in flagged.values()]
    found = set(selectors.filter_alias_flag(TitleAlias.objects.filter(pk__in=ids), flag).values_list("pk", flat=True))
    expected = {flagged[name].pk for name, flags in EXPECTED_FLAGS.items() if flag in flags}
    assert found == expected


def test_unknown_flag_raises():
    with pytest.raises(ValueError, match="Unknown alias flag"):
        selectors.filter_alias_flag(TitleAlias.objects.all(), "nope")


def test_level_words_come_from_settings(settings):
    settings.REVIEW_LEVEL_WORDS = {"junior": {"words": ["apprentice"], "max_rank": 1}}
    assert selectors.level_flag("Apprentice Analyst", "P3", 3).code == "level"
    assert selectors.level_flag("Junior Analyst", "P3", 3) is None


def test_seed_card_flags(seed_role):
    page = list(selectors.alias_queue().filter(role=seed_role))
    flags = {a.alias: {f.code for f in fs} for a, fs in zip(page, map(selectors.alias_flags(page).get,
                                                                         [a.pk for a in page]), strict=True)}
    assert "near_duplicate" in flags["Machine Learning I"]
    assert "near_duplicate" in flags["Machine Learning 1"]
    # P1 is entry level: "Junior", "Entry-Level" and "I" fit it.
    assert "level" not in flags["Junior Machine Learning"]


def test_parent_chain_in_one_query(reference_soc, django_assert_num_queries):
    pk = soc("15-2051").pk
    with django_assert_num_queries(1):
        chain = selectors.occupation_ancestors(pk)
    assert [o.code for o in chain] == ["15-2051", "15-2050", "15-2000", "15-0000"]


def test_detailed_codes_under_a_group_are_searchable(reference_soc):
    codes = list(selectors.detailed_codes_under(soc("15-0000"), "data sci").values_list("code", flat=True))
    assert codes == ["15-2051"]
    by_code = selectors.detailed_codes_under(soc("15-0000"), "15-12")
    assert by_code.exists() and all(c.level == "detailed" and c.code.startswith("15-12") for c in by_code)
    assert not selectors.detailed_codes_under(soc("15-0000")).filter(code__startswith="11-").exists()


def test_title_mismatch_names_ampersand():
    assert "“&”" in selectors.title_mismatch("Computer & Mathematical Occupations",
                                             "Computer and Mathematical Occupations")
    assert selectors.title_mismatch("Data Scientists", "Data Scientists") == ""
    assert selectors.title_mismatch("data scientists", "Data Scientists") == "differs only in case or punctuation"


def test_content_changes_show_old_and_new(alias, reviewer, curator):
    services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    alias.alias, alias.confidence = "Data Wrangler Lead", Decimal("0.90")
    save_alias(alias=alias, actor=curator, reason="retitle")
    page = list(selectors.alias_queue().filter(pk=alias.pk))
    changes = {c.field: (c.old, c.new) for c in selectors.content_changes(page)[alias.pk]}
    assert changes == {"alias": ("Data Wrangler", "Data Wrangler Lead"),
                       "confidence": (Decimal("0.70"), Decimal("0.90"))}


def test_dashboard_selectors(alias, reviewer, detailed_mapping):
    services.approve_alias(alias=alias, actor=reviewer)
    backlog = selectors.backlog_by_status()
    assert backlog["aliases"]["approved"] == 1 and backlog["mappings"]["needs_review"] == 1
    per_day = selectors.decisions_per_day(7)
    assert len(per_day) == 7 and per_day[-1][1] == 1
    assert dict(selectors.pending_by_family())[detailed_mapping.role.node.parent.code] == 1


def test_content_changes_name_the_role_an_alias_was_moved_from(alias, reviewer, curator):
    services.approve_alias(alias=alias, actor=reviewer)
    alias.refresh_from_db()
    old_code = alias.role.code
    alias.role = RoleFactory()
    save_alias(alias=alias, actor=curator, reason="belongs elsewhere")
    page = list(selectors.alias_queue().filter(pk=alias.pk))
    changes = {c.field: (c.old, c.new) for c in selectors.content_changes(page)[alias.pk]}
    assert changes == {"role": (old_code, alias.role.code)}
