"""No serious or critical accessibility violation (axe-core, pinned in package.json) on any page a person
uses, at realistic size, in light and in dark mode.

Every page is opened with a page's worth of realistic rows (tests/browser/realistic.py: a full
50-row alias queue page, a full 25-row mapping queue page with the SOC coder's suggestions and
every flag, 80+ character titles, a role with 40 components and 55 aliases in its editor) and
audited twice: in light mode with every rule, then after switching the browser to dark
(prefers-color-scheme, which the admin's theme follows while none is stored) with the rules
that depend on colours (ui.COLOUR_RULES: the document is otherwise the same, and the second full
pass would cost 15 s for nothing). The page list is tests/browser/ui.py's page_list(); axe-core
is installed from npm by `make test` (package-lock.json).
"""

import time

import pytest

from tests.browser.ui import COLOUR_RULES, Visitor, audit, page_list, set_scheme

pytestmark = pytest.mark.browser


def test_every_page_has_no_serious_or_critical_violation_in_light_and_dark(page, live_server, realistic):
    started = time.perf_counter()
    failures, counts = [], {}
    visitor = Visitor(page, live_server)
    for target in page_list(realistic):
        visitor.open(target)
        for scheme in ("light", "dark"):
            set_scheme(page, scheme)
            result = audit(page, None if scheme == "light" else COLOUR_RULES)
            counts[f"{target.name} ({scheme})"] = result["counts"]
            failures += [
                f"{target.name} ({scheme}, {target.url}): {v['id']} ({v['impact']}, {v['count']} nodes) "
                f"{v['help']} at {v['nodes']}"
                for v in result["blocking"]
            ]
        set_scheme(page, "light")
    print(f"\naxe (minor/moderate/serious/critical nodes) per page, realistic data "
          f"({realistic.seconds:.1f} s to {'restore' if realistic.restored else 'build'}):")
    for name, c in counts.items():
        print(f"  {name}: {c['minor']}/{c['moderate']}/{c['serious']}/{c['critical']}")
    print(f"  {len(counts)} audits in {time.perf_counter() - started:.1f} s")
    for failure in failures:
        print(f"  FAIL {failure}")
    assert not failures, "\n".join(failures)
