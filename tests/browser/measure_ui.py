"""Measure the UI, page by page, at realistic size: a tool for before/after figures, not a test.

    .venv/bin/python -m pytest tests/browser/measure_ui.py -s -p no:cacheprovider

prints one line per page (tests/browser/ui.py page_list, realistic data from
tests/browser/realistic.py):

* axe: serious + critical nodes in light (every rule) and dark (the colour rules, as
  test_accessibility.py runs them);
* at 390 × 844: the element reaching furthest right (selector, right edge in px; over 390 the
  page scrolls sideways) and the smallest touch target (selector, width × height);
* Tabs from the page's load to its first decision control (pages that have one);
* the lowest focus-ring contrast among the sampled elements, light / dark;

then the figures of the whole desk: the mapping and alias queues' Decide controls in view at
1280 and 1024 px, Tabs from the dashboard's load to "Start reviewing", dark-mode Approve /
Reject contrast, the role editor's sticky row on a phone, the API tokens link and copy button,
and README.md's line count. MEASURE_UI_OUT=path also writes the table to that file.

The assertions live in test_accessibility.py, test_phone.py and test_layout.py: this prints and
never fails on a figure. It is marked `measure`, which pyproject's addopts deselects (and the
file is not named test_*.py): naming the file on the command line runs it (tests/browser/conftest.py).
"""

import os
import re
import time
from pathlib import Path

import pytest

from tests.browser.conftest import TIMEOUT_MS, login
from tests.browser.ui import (
    COLOUR_RULES,
    DECISION_CONTROL,
    PHONE,
    Page,
    Visitor,
    audit,
    button_contrast,
    create_token,
    decide_controls,
    focus_rings,
    overflow,
    page_list,
    set_scheme,
    sticky,
    tabs_to_start_reviewing,
    tabs_until,
    targets,
)

ROOT = Path(__file__).resolve().parents[2]


def _context(browser, viewport, **extra):
    context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC", **extra)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _blocking(result) -> int:
    return sum(v["count"] for v in result["blocking"])


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@pytest.mark.measure
@pytest.mark.browser
def test_measure_ui(browser, live_server, realistic):
    started = time.perf_counter()
    pages = page_list(realistic)
    rows = {p.name: {} for p in pages}
    notes = {}

    # Desktop, 1280 × 900: axe light and dark, Tabs to the first decision, focus rings.
    context = _context(browser, {"width": 1280, "height": 900})
    page = context.new_page()
    visitor = Visitor(page, live_server)
    for target in pages:
        row = rows[target.name]
        try:
            visitor.open(target)
        except Exception as exc:  # noqa: BLE001 - a measurement notes what it could not do
            row["error"] = str(exc).splitlines()[0]
            continue
        if target.action is None and page.locator(DECISION_CONTROL).count():
            tabs, _ = tabs_until(page, DECISION_CONTROL, limit=150)
            row["tabs"] = str(tabs) if tabs is not None else ">150"
        row["axe light"] = _blocking(audit(page))
        row["focus light"] = min((r["contrast"] for r in focus_rings(page)), default=None)
        set_scheme(page, "dark")
        row["axe dark"] = _blocking(audit(page, COLOUR_RULES))
        row["focus dark"] = min((r["contrast"] for r in focus_rings(page)), default=None)
        set_scheme(page, "light")
    context.close()

    # Phone, 390 × 844: the widest element, the smallest target, the role editor's sticky row.
    context = _context(browser, PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    visitor = Visitor(page, live_server)
    for target in pages:
        row = rows[target.name]
        try:
            visitor.open(target)
        except Exception as exc:  # noqa: BLE001
            row["phone error"] = str(exc).splitlines()[0]
            continue
        wide = overflow(page)
        row["widest"] = (f"{wide['widest']['selector']} {wide['widest']['right']}" if wide["widest"] else "–")
        row["scrollWidth"] = wide["scrollWidth"]
        found = targets(page)
        if found:
            small = min(found, key=lambda t: (min(t["w"], t["h"]), t["w"] * t["h"]))
            row["smallest"] = f"{small['selector']} {small['w']}×{small['h']}"
            row["small count"] = sum(1 for t in found if t["w"] < 44 or t["h"] < 44)
            row["targets"] = len(found)
        if target.editor:
            s = sticky(page)
            notes["role editor's sticky Reason + Save row at 390×844"] = (
                f"{s['height']} px = {s['share']:.1%} of {s['screen']} px" if s else "none"
            )
    context.close()

    # The desk as a whole.
    context = _context(browser, {"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    login(page, live_server, "rita")
    tabs, stops = tabs_to_start_reviewing(page, limit=60)
    notes["Tabs from the dashboard's load to Start reviewing"] = f"{tabs if tabs is not None else '>60'} " \
        f"({' → '.join(stops[:3])})"
    for size in ({"width": 1280, "height": 900}, {"width": 1024, "height": 768}):
        page.set_viewport_size(size)
        for name, url in (("mapping queue", "/review/mappings/"), ("alias queue", "/review/aliases/")):
            page.goto(f"{live_server.url}{url}")
            found = decide_controls(page)
            in_view = sum(1 for c in found["controls"] if not c["why"])
            notes[f"{name}: Decide controls in view at {size['width']} px"] = (
                f"{in_view}/{len(found['controls'])} in {found['rows']} rows; scrollWidth {found['scrollWidth']}"
            )
    page.set_viewport_size({"width": 1280, "height": 900})
    set_scheme(page, "dark")
    contrasts = []
    for url in ("/review/aliases/", "/review/mappings/"):
        page.goto(f"{live_server.url}{url}")
        contrasts += button_contrast(page)
    notes["dark mode: Approve / Reject against the page (min)"] = (
        f"{min(c['contrast'] for c in contrasts)}:1 ({', '.join(sorted({c['button'] for c in contrasts}))} "
        f"on {', '.join(sorted({c['page'] for c in contrasts}))})" if contrasts else "no buttons found"
    )
    set_scheme(page, "light")
    for username in ("rita", "carl"):
        context.clear_cookies()
        login(page, live_server, username)
        link = page.locator("#user-tools a[href='/api/tokens/']").count()
        notes[f"user menu links to API tokens ({username})"] = "yes" if link else "no"
    Visitor(page, live_server).open(Page("tokens", "rita", "/api/tokens/", action=create_token))
    copy = page.get_by_role("button", name=re.compile(r"copy", re.I))
    if copy.count():
        copy.first.click()
        page.wait_for_timeout(200)
        copied = page.evaluate("navigator.clipboard.readText()") == page.input_value("#new-token")
        notes["token page copy button"] = "copies the token" if copied else "present, does not copy the token"
    else:
        notes["token page copy button"] = "none"
    context.close()
    notes["README.md lines"] = str(len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()))

    # The table.
    header = (f"{'page':<38} {'axe L':>5} {'axe D':>5} {'widest at 390 (selector right-px)':<58} "
              f"{'smallest target at 390 (selector w×h)':<62} {'small':>5} {'Tabs':>5} {'focus L/D':>11}")
    lines = [f"UI measurements (realistic data: {realistic.counts}; {realistic.seconds:.1f} s to "
             f"{'restore' if realistic.restored else 'build'})", header, "-" * len(header)]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"{name:<38} could not open: {r['error']}")
            continue
        focus = "/".join("–" if r.get(k) is None else f"{r[k]:.2f}" for k in ("focus light", "focus dark"))
        lines.append(
            f"{_short(name, 38):<38} {r.get('axe light', '–'):>5} {r.get('axe dark', '–'):>5} "
            f"{_short(r.get('widest', r.get('phone error', '–')), 58):<58} {_short(r.get('smallest', '–'), 62):<62} "
            f"{r.get('small count', '–'):>5} {r.get('tabs', '–'):>5} {focus:>11}"
        )
    lines.append("")
    lines += [f"{k}: {v}" for k, v in notes.items()]
    lines.append(f"(measured in {time.perf_counter() - started:.0f} s)")
    table = "\n".join(lines)
    print("\n" + table)
    if out := os.environ.get("MEASURE_UI_OUT"):
        Path(out).write_text(table + "\n", encoding="utf-8")
