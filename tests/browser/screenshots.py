"""`make screenshots`: every page a person uses, at 1280 and 390 px, light and dark, as PNGs.

Not part of the test run (the file name is not test_*.py); `make screenshots` runs it on its own
and writes into screenshots/ (git-ignored). The README shows a few, copied into docs/.
"""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping
from tests.browser.conftest import login
from tests.factories import UserFactory

OUT = Path(__file__).resolve().parents[2] / "screenshots"
SIZES = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.mark.browser
def test_screenshots(browser, live_server, seed_role, reference_soc):
    sync_groups(Group, Permission)
    UserFactory(username="rita", groups=[REVIEWERS])
    UserFactory(username="carl", groups=[CURATORS])
    UserFactory(username="ada", is_superuser=True)
    mapping = ClassificationMapping.objects.get(role=seed_role)
    pages = {
        "login": ("", "/admin/login/"),
        "dashboard": ("rita", "/review/"),
        "alias-queue": ("rita", "/review/aliases/"),
        "mapping-queue": ("rita", "/review/mappings/"),
        "mapping-page": ("rita", f"/review/mappings/{mapping.pk}/"),
        "threshold-preview": ("rita", "/review/aliases/threshold/?threshold=0.6"),
        "decision-log": ("rita", "/review/decisions/"),
        "release": ("rita", "/review/release/"),
        "roles": ("rita", "/roles/"),
        "card": ("rita", f"/roles/{seed_role.code}/"),
        "compare": ("rita", f"/roles/compare/?a={seed_role.code}&b={seed_role.code}"),
        "coordinates": ("rita", "/roles/coordinates/"),
        "403": ("carl", "/review/release/"),
        "admin-index": ("ada", "/admin/"),
        "role-editor": ("ada", f"/admin/roles/role/{seed_role.pk}/change/"),
    }
    OUT.mkdir(exist_ok=True)
    written = 0
    for size, viewport in SIZES.items():
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            who = None
            for name, (username, url) in pages.items():
                if username != who:
                    context.clear_cookies()
                    if username:
                        login(page, live_server, username)
                    who = username
                page.goto(f"{live_server.url}{url}")
                page.screenshot(path=str(OUT / f"{name}-{size}-{scheme}.png"), full_page=True)
                written += 1
            context.close()
    print(f"\n{written} screenshots in {OUT}")
    assert written == len(pages) * len(SIZES) * 2
