"""Role pages: the card page against the published card, the directory, compare, permissions."""

from __future__ import annotations

import re
from datetime import UTC
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from review.services import approve_alias, reject_alias
from roles.cards.renderer import render_card
from roles.models import Component, Role
from tests.factories import (
    ClassificationMappingFactory,
    ComponentFactory,
    LevelFactory,
    RoleFactory,
    SpecializationFactory,
    TitleAliasFactory,
    UserFactory,
    curator,
    reviewer,
)


@pytest.fixture
def staff_client(client, db, groups):
    user = reviewer(first_name="Rita", last_name="Reviewer")
    client.force_login(user)
    return client


# A page as text, the way the published card was copied from its web page: blocks start new
# lines, inline elements run together ("Componentsshow ▾"), list items read "- ", table rows
# "| a | b |" with a rule under the header. Elements marked data-page-only are left out.

BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "header",
    "h1",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "details",
    "summary",
    "nav",
    "form",
    "dl",
    "dt",
    "dd",
}
VOID = {"br", "img", "input", "meta", "link", "hr"}


class CardText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.stack: list[tuple[str, bool, str | None]] = []  # (tag, skipped, section)
        self.line = ""
        self.cells: list[str] | None = None
        self.in_head = False
        self.cell = ""

    @property
    def skipping(self) -> bool:
        return any(s for _, s, _ in self.stack)

    @property
    def section(self) -> str | None:
        for _, _, name in reversed(self.stack):
            if name:
                return name
        return None

    def flush(self):
        text = " ".join(self.line.split())
        if text and self.section:
            self.sections.setdefault(self.section, []).append(text)
        self.line = ""

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attrs = dict(attrs)
        skipped = "data-page-only" in attrs
        self.stack.append((tag, skipped, attrs.get("data-card-section")))
        if self.skipping:
            return
        if tag == "tr":
            self.flush()
            self.cells = []
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "thead":
            self.in_head = True
        elif tag in BLOCKS:
            self.flush()
            if tag == "li":
                self.line = "- "

    def handle_endtag(self, tag):
        if tag in VOID or not self.stack:
            return
        was_skipping = self.skipping
        open_tag, _, _ = self.stack[-1]
        assert open_tag == tag, f"unbalanced </{tag}> closing <{open_tag}>"
        if not was_skipping:
            if tag in ("td", "th") and self.cells is not None:
                self.cells.append(" ".join(self.cell.split()))
            elif tag == "tr" and self.cells is not None:
                self.line = "| " + " | ".join(self.cells) + " |"
                row_cells = len(self.cells)
                self.cells = None
                self.flush()
                if self.in_head:
                    self.line = "|" + "---|" * row_cells
                    self.flush()
            elif tag == "thead":
                self.in_head = False
            elif tag in BLOCKS:
                self.flush()
        self.stack.pop()

    def handle_data(self, data):
        if self.skipping:
            return
        if self.cells is not None:
            self.cell += data
        else:
            self.line += data


def page_sections(html: str) -> dict[str, list[str]]:
    parser = CardText()
    parser.feed(html)
    parser.close()
    return parser.sections


CARD_SECTIONS = [
    ("story", "The story of this role"),
    ("summary", "Summary"),
    ("level", "Level — "),
    ("core-outputs", "Core outputs"),
    ("adjacent", "Adjacent roles"),
    ("components", "Componentsshow ▾"),
    ("aliases", "Title aliasesshow ▾"),
    ("mappings", "Classification mappingsshow ▾"),
]


def card_sections(text: str) -> dict[str, list[str]]:
    """Split a rendered card at its section headers (the first line of each section)."""
    lines = text.split("\n")
    starts: list[tuple[str, int]] = []
    previous = 0
    for name, header in CARD_SECTIONS:
        # Search after the previous header: a story paragraph could start with "Summary".
        previous = next(i for i, line in enumerate(lines) if i > previous and line.startswith(header))
        starts.append((name, previous))
    sections = {"opening": lines[: starts[0][1]]}
    for (name, start), nxt in zip(starts, starts[1:] + [(None, len(lines))], strict=True):
        sections[name] = lines[start : nxt[1]]
    return sections


def card_page(client, role) -> str:
    response = client.get(reverse("roles:card", args=[role.code]))
    assert response.status_code == 200
    return response.content.decode()


# The card page.


def test_the_card_page_text_matches_export_card_section_by_section(staff_client, seed_role):
    page = page_sections(card_page(staff_client, seed_role))
    card = card_sections(render_card(Role.objects.get(pk=seed_role.pk)))
    assert list(page) == list(card)
    # The card prints its headline twice (an artefact of the page it was copied from); the page once.
    title, code, headline, repeated = card["opening"]
    assert headline == repeated
    assert page["opening"] == [title, code, headline]
    for name in list(card)[1:-1]:
        assert page[name] == card[name], name
    # Mappings read as code, official title, source and a status badge on the page.
    assert page["mappings"][:2] == card["mappings"][:2]  # the header and the scheme
    assert len(page["mappings"]) == len(card["mappings"])
    for line, mapping in zip(page["mappings"][2:], seed_role.mappings.order_by("pk"), strict=True):
        for part in (mapping.code, mapping.occupation.title, mapping.get_source_display(),
                     mapping.get_status_display()):
            assert part in line


def test_the_card_text_keeps_the_published_mapping_line(staff_client, seed_role):
    text = staff_client.get(reverse("roles:card_text", args=[seed_role.code])).content.decode()
    assert (
        "- code=15-0000title=Computer & Mathematical Occupationssource=inferred_from_superfunction"
        "reviewStatus=needs_review" in text.split("\n")
    )


def test_the_card_page_contains_every_section_and_item_of_the_seed_role(staff_client, seed_role):
    html = card_page(staff_client, seed_role)
    text = "\n".join(line for lines in page_sections(html).values() for line in lines)
    role = seed_role
    for value in (
        role.title,
        role.code,
        role.headline,
        role.who_does_this_work,
        role.external_problem,
        role.internal_problem,
        role.why_it_matters,
        role.whats_at_stake,
        role.success_looks_like,
        role.summary,
        role.level.summary,
        "Level — P1 — Entry-Level Professional",
        "No core outputs recorded yet.",
        "How coordinates work →",
        "Compare side-by-side →",
    ):
        assert value in text, value
    for step in role.plan:
        assert f"- {step}" in text
    for _, label in role.level.ATTRIBUTES:
        assert f"- {label}" in text
    counts = {"Responsibilities": 8, "Tasks": 4, "Skills": 8, "Knowledge": 8, "competency": 8, "qualification": 3}
    for label, count in counts.items():
        assert f"\n{label}{count}\n" in text
    for component in role.components.all():
        assert f"- {component.text}{component.prevalence}{component.scope}" in text
    aliases = list(role.aliases.all())
    assert len(aliases) == 16
    for alias in aliases:
        assert f"| {alias.alias} | {alias.alias_type} | {alias.band}{alias.confidence} | — |" in text
    # The page shows a mapping readably (code, official title, source, status); card.txt keeps
    # the published "code=…title=…" line (test_the_card_text_keeps_the_published_mapping_line).
    assert (
        "- 15-0000 Computer and Mathematical Occupations card title: Computer & Mathematical Occupations "
        "Inferred from superfunction Needs review" in text
    )
    # Links for curators: admin, review queues, history, download.
    assert reverse("admin:roles_role_change", args=[role.pk]) in html
    assert reverse("admin:roles_role_history", args=[role.pk]) in html
    assert "/review/aliases/?role=AIMLAM.GEN.P1" in html
    assert "/review/mappings/?role=AIMLAM.GEN.P1" in html
    assert reverse("roles:card_text", args=[role.code]) in html
    # The three long sections collapse.
    for section in ("components", "aliases", "mappings"):
        assert re.search(rf'<details class="card-section" data-card-section="{section}"', html)


def test_download_card_serves_exactly_what_export_card_prints(staff_client, seed_role):
    response = staff_client.get(reverse("roles:card_text", args=[seed_role.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="AIMLAM.GEN.P1.txt"' in response["Content-Disposition"]
    assert response.content.decode() == render_card(Role.objects.get(pk=seed_role.pk))


def test_an_approved_alias_shows_its_date_and_reviewer_and_a_rejected_one_hides(staff_client, seed_role):
    approved, rejected = list(seed_role.aliases.order_by("pk"))[:2]
    approver = UserFactory(first_name="Ada", last_name="Approver", is_superuser=True)
    approve_alias(alias=approved, actor=approver)
    reject_alias(alias=rejected, actor=approver, reason="Reads as a course title, not a job.")
    today = timezone.now().astimezone(UTC).date().isoformat()
    html = card_page(staff_client, seed_role)
    sections = page_sections(html)
    assert f"| {approved.alias} | common | medium0.70 | {today} |" in sections["aliases"]
    assert "by Ada Approver" in html
    assert not any(rejected.alias in line for line in sections["aliases"])
    assert re.search(r'<details class="rejected" id="rejected-aliases" data-page-only>', html)
    assert f"<s>{rejected.alias}</s>" in html
    # Still the card, section by section.
    card = card_sections(render_card(Role.objects.get(pk=seed_role.pk)))
    assert sections["aliases"] == card["aliases"]


def test_the_card_page_lists_adjacent_roles_with_distance_and_band(staff_client, seed_role):
    sibling = RoleFactory(
        node=SpecializationFactory(code="AIMLAM.NLP", parent=seed_role.node.parent), level=seed_role.level
    )
    html = card_page(staff_client, seed_role)
    assert f'href="{reverse("roles:card", args=[sibling.code])}"' in html
    assert "0.15" in html and "band-close" in html


def test_unknown_role_code_is_404(staff_client, db):
    assert staff_client.get(reverse("roles:card", args=["NOPE.X.P1"])).status_code == 404


def test_card_page_query_count_does_not_grow_with_items(staff_client, seed_role, django_assert_num_queries):
    def count_queries():
        with django_assert_num_queries(NUM_CARD_QUERIES):
            card_page(staff_client, seed_role)

    count_queries()
    for _ in range(5):
        ComponentFactory(role=seed_role, kind=Component.Kind.SKILL)
        TitleAliasFactory(role=seed_role)
        ClassificationMappingFactory(role=seed_role)
        RoleFactory(node=seed_role.node)
    count_queries()


# Session, user, SAVEPOINT (ATOMIC_REQUESTS), the user's and the group permissions, the role
# with node, ancestors and level, its components, aliases (with approver), mappings (with
# occupation and reviewer), the neighbours (levels, the role's own place in the tree, the roles
# of its family, then of every role since AIMLAM has no function filed), the header's
# notifications (unread count, latest), RELEASE SAVEPOINT.
NUM_CARD_QUERIES = 16


# Permissions.


@pytest.mark.parametrize(
    "name,args",
    [
        ("roles:directory", []),
        ("roles:compare", []),
        ("roles:coordinates", []),
        ("roles:card", ["AIMLAM.GEN.P1"]),
        ("roles:card_text", ["AIMLAM.GEN.P1"]),
    ],
)
def test_anonymous_users_are_redirected_to_login(client, seed_role, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert "next=" in response["Location"]


def test_logged_in_users_without_staff_access_are_refused(client, seed_role):
    client.force_login(UserFactory(is_staff=False))
    assert client.get(reverse("roles:card", args=[seed_role.code])).status_code == 403
    client.force_login(UserFactory())  # staff, but no permission to view roles
    assert client.get(reverse("roles:directory")).status_code == 403


def test_curators_and_reviewers_may_read(client, seed_role, groups):
    for user in (curator(), reviewer()):
        client.force_login(user)
        assert client.get(reverse("roles:card", args=[seed_role.code])).status_code == 200


# The directory.


def make_roles(n: int, family_code: str = "DIR") -> list[Role]:
    level = LevelFactory(code="P2", rank=2)
    spec = SpecializationFactory(code=f"{family_code}.GEN", parent__code=family_code)
    roles = []
    for i in range(n):
        node = SpecializationFactory(code=f"{family_code}.S{i}", parent=spec.parent)
        role = RoleFactory(node=node, level=level)
        TitleAliasFactory(role=role, alias=f"Alias of role {i}")
        ClassificationMappingFactory(role=role)
        roles.append(role)
    return roles


# Session, user, SAVEPOINT (ATOMIC_REQUESTS), the user's and the group permissions, COUNT(*)
# for the paginator, the page's pks, those roles with node, family, level and the review counts
# (their digests, roles.derived), the header's notifications (unread count, latest), the levels
# for the level filter's choices, RELEASE SAVEPOINT.
NUM_DIRECTORY_QUERIES = 12


def test_directory_query_count_is_the_same_at_n_and_2n_rows(staff_client, django_assert_num_queries):
    make_roles(6)
    with django_assert_num_queries(NUM_DIRECTORY_QUERIES):
        first = staff_client.get(reverse("roles:directory"))
    make_roles(6, family_code="DIRB")
    with django_assert_num_queries(NUM_DIRECTORY_QUERIES):
        second = staff_client.get(reverse("roles:directory"))
    assert first.content.decode().count('class="role-row"') == 6
    assert second.content.decode().count('class="role-row"') == 12


def test_directory_pages_in_code_order(staff_client):
    make_roles(60)
    first = staff_client.get(reverse("roles:directory")).content.decode()
    second = staff_client.get(reverse("roles:directory") + "?page=2").content.decode()
    assert first.count('class="role-row"') == 50 and second.count('class="role-row"') == 10
    codes = re.findall(r'<td><a href="/roles/([^/]+)/">', first + second)
    assert codes == sorted(codes) and len(set(codes)) == 60


def test_directory_searches_code_title_and_alias(staff_client, seed_role):
    make_roles(3)
    url = reverse("roles:directory")

    def found(query: str) -> list[str]:
        html = staff_client.get(url, {"q": query}).content.decode()
        return re.findall(r'<td><a href="/roles/([^/]+)/">', html)

    assert found("aimlam.gen") == ["AIMLAM.GEN.P1"]
    assert found("Entry-Level AI/ML") == ["AIMLAM.GEN.P1"]
    assert found("deep learning 1") == ["AIMLAM.GEN.P1"]  # an alias
    assert found("Alias of role 1") == ["DIR.S1.P2"]


def test_directory_filters_family_specialization_level_and_pending(staff_client, seed_role):
    make_roles(3)
    url = reverse("roles:directory")

    def found(**params) -> list[str]:
        response = staff_client.get(url, params)
        assert response.status_code == 200
        return re.findall(r'<td><a href="/roles/([^/]+)/">', response.content.decode())

    assert found(family="aimlam") == ["AIMLAM.GEN.P1"]
    assert found(specialization="DIR.S2") == ["DIR.S2.P2"]
    assert found(specialization="gen") == ["AIMLAM.GEN.P1"]
    assert found(level="P2") == ["DIR.S0.P2", "DIR.S1.P2", "DIR.S2.P2"]
    assert found(pending="true") == ["AIMLAM.GEN.P1", "DIR.S0.P2", "DIR.S1.P2", "DIR.S2.P2"]
    assert found(pending="false") == []


def test_directory_shows_filter_errors_instead_of_listing_everything(staff_client, seed_role):
    response = staff_client.get(reverse("roles:directory"), {"level": "Z9"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert 'class="role-row"' not in html


# Compare.


@pytest.fixture
def two_roles(db):
    """Two hand-built roles: 2 shared skills (one differing in case and punctuation), 1 shared alias."""
    family = SpecializationFactory(code="CMP.A").parent
    a = RoleFactory(node=SpecializationFactory(code="CMP.A", parent=family), level=LevelFactory(code="P1", rank=1))
    b = RoleFactory(
        node=SpecializationFactory(code="CMP.B", parent=family),
        level=LevelFactory(code="P3", rank=3, scope="Whole product area"),
    )
    for i, text in enumerate(["Python programming", "Data cleaning", "Unit testing"]):
        ComponentFactory(role=a, kind=Component.Kind.SKILL, text=text, position=i)
    for i, text in enumerate(["python programming.", "Data Cleaning", "Stakeholder management"]):
        ComponentFactory(role=b, kind=Component.Kind.SKILL, text=text, position=i)
    ComponentFactory(role=b, kind=Component.Kind.TASK, text="Lead design reviews")
    TitleAliasFactory(role=a, alias="Data Engineer")
    TitleAliasFactory(role=a, alias="Junior Data Engineer")
    TitleAliasFactory(role=b, alias="data engineer")
    ClassificationMappingFactory(role=a, occupation__code="15-2051")
    ClassificationMappingFactory(role=b, occupation__code="15-2051")
    ClassificationMappingFactory(role=b, occupation__code="15-1252")
    return a, b


def test_compare_matches_components_aliases_and_mappings(staff_client, two_roles):
    a, b = two_roles
    response = staff_client.get(reverse("roles:compare"), {"a": a.code, "b": b.code.lower()})
    assert response.status_code == 200
    cmp = response.context["cmp"]
    skills = next(s for s in cmp.components if s["label"] == "Skills")["matched"]
    assert [(x.text, y.text) for x, y in skills.shared] == [
        ("Python programming", "python programming."),
        ("Data cleaning", "Data Cleaning"),
    ]
    assert [x.text for x in skills.only_a] == ["Unit testing"]
    assert [y.text for y in skills.only_b] == ["Stakeholder management"]
    tasks = next(s for s in cmp.components if s["label"] == "Tasks")["matched"]
    assert tasks.shared == [] and [y.text for y in tasks.only_b] == ["Lead design reviews"]
    assert [(x.alias, y.alias) for x, y in cmp.aliases.shared] == [("Data Engineer", "data engineer")]
    assert [x.alias for x in cmp.aliases.only_a] == ["Junior Data Engineer"]
    assert [(x.code, y.code) for x, y in cmp.mappings.shared] == [("15-2051", "15-2051")]
    assert [y.code for y in cmp.mappings.only_b] == ["15-1252"]
    differing = {row["label"] for row in cmp.level_rows if row["differs"]}
    assert differing == {"Scope"}
    html = response.content.decode()
    assert '<tr class="diff" data-attribute="Scope">' in html
    assert '<tr class="same" data-attribute="Autonomy">' in html
    # Sibling specializations two ranks apart (of 2): 0.6 × 0.25 + 0.4 × 1 = 0.55.
    assert cmp.distance == pytest.approx(0.55) and cmp.band == "distant"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"a": "AIMLAM.GEN.P1"}, "b", "This field is required."),
        ({"a": "NOPE.X.P1", "b": "AIMLAM.GEN.P1"}, "a", "No role has the code"),
        ({"a": "AIMLAM.GEN.P1", "b": "x" * 80}, "b", "at most 40 characters"),
    ],
)
def test_compare_with_a_bad_or_missing_code_is_a_400_naming_the_field(staff_client, seed_role, params, field, message):
    response = staff_client.get(reverse("roles:compare"), params)
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert f'id="error-{field}"' in response.content.decode()


def test_compare_without_parameters_shows_the_form(staff_client, db):
    response = staff_client.get(reverse("roles:compare"))
    assert response.status_code == 200
    assert 'id="compare-form"' in response.content.decode()


# How coordinates work.


def test_coordinates_page_works_the_example_on_the_seed_role(staff_client, seed_role):
    RoleFactory(node=SpecializationFactory(code="AIMLAM.NLP", parent=seed_role.node.parent), level=seed_role.level)
    response = staff_client.get(reverse("roles:coordinates"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="worked-role"' in html and "AIMLAM.GEN.P1" in html
    for tier in ("Primary-Short", "Primary-Long", "Supplemental"):
        assert tier in html
    assert "AIMLAM.NLP.P1" in html  # its real nearest role
    assert "0.60 × 0.250 + 0.40 × 0.000 = <strong>0.150</strong>" in html  # the sibling case
