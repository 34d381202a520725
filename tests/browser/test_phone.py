"""Every page on a phone (390 × 844, touch): targets one can hit, no sideways scrolling, a role editor
whose Reason + Save row leaves room for the form.

For every page of the accessibility test's list (tests/browser/ui.py page_list, realistic data):

(a) targets at least 44 × 44 px: buttons and inputs of type submit/button/checkbox/radio, the
    reason boxes of the decision forms, <summary> in rows, links in table rows and queue
    cards (ui.TARGETS_JS says precisely which; a checkbox counts with its wrapping <label>);
(b) no sideways scrolling: document.documentElement.scrollWidth ≤ the screen's 390 px, naming
    the element that reaches furthest right;
(c) the role editor's sticky Reason + Save row at most 15 % of the screen's height.
"""

import time
from collections import defaultdict

import pytest

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.ui import MAX_STICKY_SHARE, MIN_TARGET, PHONE, Visitor, overflow, page_list, small_targets, sticky
from tests.browser.ui import targets as find_targets

pytestmark = pytest.mark.browser


def phone_context(browser, **extra):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB",
                                  timezone_id="UTC", **extra)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def describe_small(small: dict[tuple[str, str], list[tuple[str, dict]]], limit: int = 40) -> list[str]:
    """One line per kind of element (kind and selector without positions) under 44 × 44, on whichever
    pages: how many, the smallest, and the pages; Rolebook's own pages first (the API docs are Swagger
    UI's and Redoc's markup), smallest kinds first."""

    def order(item):
        pages, found = {name for name, _ in item[1]}, item[1]
        return all(name.startswith("API docs") for name in pages), min(min(t["w"], t["h"]) for _, t in found)

    lines = []
    for (kind, pattern), found in sorted(small.items(), key=order):
        page_name, first = min(found, key=lambda pt: min(pt[1]["w"], pt[1]["h"]))
        pages = list(dict.fromkeys(name for name, _ in found))
        on = ", ".join(pages) if len(pages) <= 4 else f"{len(pages)} pages: {', '.join(pages[:3])}, …"
        lines.append(f"{len(found)} × {kind} {pattern} under {MIN_TARGET}×{MIN_TARGET} px "
                     f"(smallest {first['w']}×{first['h']} px, “{first['label']}” on {page_name}); on {on}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"… and {len(lines) - limit} more kinds of small target"]
    return lines


def test_every_page_fits_a_phone(browser, live_server, realistic):
    started = time.perf_counter()
    context = phone_context(browser)
    page = context.new_page()
    failures, summary = [], []
    too_small = defaultdict(list)
    try:
        visitor = Visitor(page, live_server)
        for target in page_list(realistic):
            name = f"{target.name} ({target.url})"
            try:
                visitor.open(target)
            except Exception as exc:  # noqa: BLE001 - a step a phone cannot do is a finding, not a crash
                failures.append(f"{name}: could not {target.action.__name__ if target.action else 'open'} "
                                f"on a phone: {str(exc).splitlines()[0]}")
                continue
            found = find_targets(page)
            small = small_targets(found)
            for t in small:
                too_small[(t["kind"], t["pattern"])].append((target.name, t))
            wide = overflow(page)
            limit = min(wide["innerWidth"], PHONE["width"])
            if wide["scrollWidth"] > limit:
                w = wide["widest"]
                failures.append(f"{name}: scrolls sideways: scrollWidth {wide['scrollWidth']} px > {limit} px; "
                                f"widest element {w['selector']} reaches {w['right']} px")
            if target.editor:
                row = sticky(page)
                if row is None:
                    failures.append(f"{name}: no sticky Reason + Save row (#sticky-submit)")
                elif row["share"] > MAX_STICKY_SHARE:
                    failures.append(f"{name}: the sticky Reason + Save row {row['selector']} is {row['height']} px "
                                    f"= {row['share']:.0%} of the {row['screen']} px screen (at most "
                                    f"{MAX_STICKY_SHARE:.0%}: {MAX_STICKY_SHARE * row['screen']:.0f} px)")
            summary.append(f"  {target.name}: {len(found)} targets, {len(small)} small; "
                           f"scrollWidth {wide['scrollWidth']}")
    finally:
        context.close()
    failures += describe_small(too_small)
    print(f"\nphone 390×844 ({time.perf_counter() - started:.1f} s):")
    print("\n".join(summary))
    for failure in failures:
        print(f"  FAIL {failure}")
    assert summary, "no page was measured"
    assert not failures, "\n".join(failures)
