"""No serious or critical accessibility violation (axe-core, pinned in package.json) on any page a person uses.

axe-core is installed from npm by `make test` (package-lock.json) and injected into each page in
Debian's Chromium. The anchor: the stock Django admin index has none either.
"""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.db.models import Model

from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping, Component, Decision, Role, TitleAlias
from taxonomy.models import Level, OccupationCode, TaxonomyNode
from tests.browser.conftest import login
from tests.factories import ComponentFactory, TitleAliasFactory, UserFactory

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
COUNTS: dict[str, dict[str, int]] = {}


@pytest.fixture
def users(seed_role):
    sync_groups(Group, Permission)
    return {
        "reviewer": UserFactory(username="rita", groups=[REVIEWERS]),
        "curator": UserFactory(username="carl", groups=[CURATORS]),
        "admin": UserFactory(username="ada", is_superuser=True),
    }


def audit(page, name: str) -> list[dict]:
    """Run axe on the page; return its serious and critical violations (and keep the counts)."""
    assert AXE.is_file(), "axe-core is missing: run `make test` (it runs `npm ci`)."
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    counts = {impact: 0 for impact in ("minor", "moderate", "serious", "critical")}
    for v in violations:
        counts[v["impact"] or "minor"] += len(v["nodes"])
    COUNTS[name] = counts
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in violations
        if v["impact"] in BLOCKING
    ]


def admin_url(model: type[Model], view: str = "changelist", pk=None) -> str:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return base if view == "changelist" else f"{base}{pk}/change/"


def test_every_page_has_no_serious_or_critical_violation(page, live_server, seed_role, users, reference_soc):
    # A role with 20 components and 20 aliases for the editor's worst case.
    for i in range(12):
        ComponentFactory(role=seed_role, text=f"An extra skill {i}")
        TitleAliasFactory(role=seed_role, alias=f"Extra Alias {i}")
    mapping = ClassificationMapping.objects.get(role=seed_role)
    pages = {
        "login": ("", "/admin/login/"),
        "dashboard": ("rita", "/review/"),
        "alias queue": ("rita", "/review/aliases/"),
        "mapping queue": ("rita", "/review/mappings/"),
        "mapping page and refine": ("rita", f"/review/mappings/{mapping.pk}/"),
        "threshold preview": ("rita", "/review/aliases/threshold/?threshold=0.6"),
        "decision log": ("rita", "/review/decisions/"),
        "release page": ("rita", "/review/release/"),
        "role directory": ("rita", "/roles/"),
        "card page": ("rita", f"/roles/{seed_role.code}/"),
        "compare": ("rita", f"/roles/compare/?a={seed_role.code}&b={seed_role.code}"),
        "coordinates": ("rita", "/roles/coordinates/"),
        "403": ("carl", "/review/release/"),
        "admin index": ("ada", "/admin/"),
        "role change form": ("ada", admin_url(Role, "change", seed_role.pk)),
    }
    for model in (Role, Component, TitleAlias, ClassificationMapping, Decision, Level, TaxonomyNode, OccupationCode):
        pages[f"changelist {model._meta.model_name}"] = ("ada", admin_url(model))
    failures = {}
    who = None
    for name, (username, url) in pages.items():
        if username != who:
            page.context.clear_cookies()
            if username:
                login(page, live_server, username)
            who = username
        page.goto(f"{live_server.url}{url}")
        if problems := audit(page, name):
            failures[name] = problems
    print("\naxe (minor/moderate/serious/critical nodes) per page:")
    for name, counts in COUNTS.items():
        print(f"  {name}: {counts['minor']}/{counts['moderate']}/{counts['serious']}/{counts['critical']}")
    for name, problems in failures.items():
        for problem in problems:
            print(f"  FAIL {name}: {problem['id']} ({problem['impact']}) {problem['help']} at {problem['nodes']}")
    assert not failures, failures
