"""What the UI tests measure, shared by test_accessibility.py, test_phone.py, test_layout.py and measure_ui.py.

* `page_list(data)`: every page a person uses, as (who, where, what to do first), opened at
  realistic size (tests/browser/realistic.py). `Visitor` logs in as each page's user in turn.
* `audit(page)`: axe-core's violations (node_modules/axe-core, pinned in package.json).
* The measures are JavaScript functions run in the page (one evaluate each):
  TARGETS_JS (touch targets), OVERFLOW_JS (sideways scrolling and the element that causes
  it), STICKY_JS (the role editor's Reason + Save row), FOCUS_JS (focus-ring contrast),
  BUTTON_CONTRAST_JS (Approve / Reject against the page), DECIDE_JS (the queues' Decide
  controls inside the viewport).

Colours are read through a 1×1 canvas, so every CSS colour syntax counts; contrast is WCAG's
relative-luminance ratio. The "background behind" an element is the first non-transparent
background of its ancestors (semi-transparent ones composited over the next, white at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
MIN_TARGET = 44  # px, both ways
MAX_STICKY_SHARE = 0.15  # of the screen's height
MIN_CONTRAST = 3.0


@dataclass
class Page:
    name: str
    user: str  # "" for nobody
    url: str
    action: Callable | None = None  # run after loading (e.g. create a token to show the token page)
    editor: bool = False  # the role editor: its sticky Reason + Save row is measured
    rows: int | None = None  # the queue rows the page must show (a full page of realistic data)


def create_token(page) -> None:
    """Make a token on the token page so that it shows the new secret (and its copy button)."""
    page.fill("#id_name", "search indexer")
    page.locator("form", has=page.locator("#id_name")).locator("button[type=submit]").click()
    page.wait_for_selector("#new-token")


def build_release(page) -> None:
    """Ask for a release build (its job runs in process in the tests): the build's page, ready to download."""
    page.locator("button[type=submit]", has_text="Build zip").click()
    page.wait_for_selector("a.button.primary[href$='/download/']")


def approve_first_alias(page) -> None:
    """Approve the first decidable alias: the queue then shows the decision's message with Undo."""
    page.locator("tr.item button.approve").first.click(timeout=5000)
    page.wait_for_selector("#messages button.undo, #messages .undo", timeout=5000)


def docs_rendered(page) -> None:
    """Swagger UI and Redoc draw the page from the schema after loading: wait until they have."""
    page.wait_for_selector(".swagger-ui .opblock, .redoc-wrap .api-content", state="attached", timeout=10_000)


def page_list(data) -> list[Page]:
    """Every page a person uses, grouped by user (one login each). `data`: RealisticData."""
    from roles.models import ClassificationMapping, Component, Decision, Role, Sample, TitleAlias
    from taxonomy.models import Level, OccupationCode, TaxonomyNode

    seed, long_role = data.seed_role, data.long_role
    pages = [
        Page("login", "", "/admin/login/"),
        Page("API docs (Swagger UI)", "", "/api/v1/docs", action=docs_rendered),
        Page("API docs (Redoc)", "", "/api/v1/redoc", action=docs_rendered),
        Page("dashboard", "rita", "/review/"),
        Page("alias queue", "rita", "/review/aliases/", rows=50),
        Page("mapping queue", "rita", "/review/mappings/", rows=25),
        Page("mapping page and refine", "rita", f"/review/mappings/{data.mapping.pk}/"),
        Page("threshold preview", "rita", "/review/aliases/threshold/?threshold=0.6"),
        Page("confident codes preview", "rita", "/review/mappings/confident/"),
        Page("decision log", "rita", "/review/decisions/"),
        Page("release page", "rita", "/review/release/"),
        Page("release build", "rita", "/review/release/", action=build_release),
        Page("reviewer agreement", "rita", "/review/agreement/"),
        Page("role directory", "rita", "/roles/"),
        Page("card page", "rita", f"/roles/{long_role.code}/"),
        Page("compare", "rita", f"/roles/compare/?a={seed.code}&b={long_role.code}"),
        Page("coordinates", "rita", "/roles/coordinates/"),
        Page("notifications", "rita", "/notifications/"),
        Page("notification preferences", "rita", "/notifications/preferences/"),
        Page("API token page (new token)", "rita", "/api/tokens/", action=create_token),
        Page("alias queue after a decision (Undo)", "rita", "/review/aliases/", action=approve_first_alias),
        Page("403", "carl", "/review/release/"),
        Page("admin index", "ada", "/admin/"),
        Page("disagreements (a lead's)", "ada", "/review/adjudicate/"),
        Page("role change form", "ada", f"/admin/roles/role/{long_role.pk}/change/", editor=True),
        Page("card import", "ada", "/admin/roles/role/import/"),
    ]
    for model in (Role, Component, TitleAlias, ClassificationMapping, Decision, Sample, Level, TaxonomyNode,
                  OccupationCode):
        pages.append(Page(f"changelist {model._meta.model_name}", "ada",
                          f"/admin/{model._meta.app_label}/{model._meta.model_name}/"))
    return pages


class Visitor:
    """Opens pages as their users, logging in again only when the user changes."""

    def __init__(self, page, live_server):
        self.page, self.live_server, self.who = page, live_server, None

    def open(self, target: Page) -> None:
        from tests.browser.conftest import login

        if target.user != self.who:
            self.page.context.clear_cookies()
            if target.user:
                login(self.page, self.live_server, target.user)
            self.who = target.user
        self.page.goto(f"{self.live_server.url}{target.url}")
        if target.action is not None:
            target.action(self.page)
        settle(self.page)
        if target.rows is not None:
            shown = self.page.locator("tr.item").count()
            assert shown == target.rows, f"{target.name}: {shown} rows, not a full page of {target.rows}"


# ---------------------------------------------------------------------------------------------
# axe


# The rules whose outcome depends on colours: all that can change when only the colour scheme
# does (the document, its names, roles and order are the same in light and dark).
COLOUR_RULES = ("color-contrast", "link-in-text-block")


def audit(page, rules: tuple[str, ...] | None = None) -> dict:
    """Run axe on the page as it is now (all rules, or only `rules`):
    {"counts": nodes per impact, "blocking": the serious and critical violations}."""
    assert AXE.is_file(), "axe-core is missing: run `make axe` (npm ci)."
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": list(rules)}
    violations = page.evaluate("async (options) => (await axe.run(document, options)).violations", options)
    counts = {impact: 0 for impact in ("minor", "moderate", "serious", "critical")}
    for v in violations:
        counts[v["impact"] or "minor"] += len(v["nodes"])
    blocking = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "count": len(v["nodes"]),
         "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in violations
        if v["impact"] in BLOCKING
    ]
    return {"counts": counts, "blocking": blocking}


def set_scheme(page, scheme: str) -> None:
    """Light or dark, as the context's color_scheme would (the admin's theme follows it: none is stored).

    Then wait for the colour transitions the switch starts (the admin's links fade for 0.15 s) to end:
    measured halfway, a colour is neither the light nor the dark one.
    """
    page.emulate_media(color_scheme=scheme)
    settle(page)


def settle(page) -> None:
    """Wait until no CSS transition or finite animation runs (at most 2 s)."""
    try:
        page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running'"
            " || a.effect?.getComputedTiming().endTime === Infinity)",
            timeout=2000, polling=50,
        )
    except Exception:  # noqa: BLE001 - an endless animation: measure as it is
        pass


# ---------------------------------------------------------------------------------------------
# In-page helpers (prefixed to each measure)

LIB_JS = r"""
const lib = (() => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  function rgba(css) {
    if (!css || css === 'transparent') return [0, 0, 0, 0];
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = 'rgba(0,0,0,0)';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  }
  function over(top, bottom) {  // composite `top` (rgba) over an opaque `bottom`
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function contrast(a, b) {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  }
  function backgroundFrom(el) {  // the opaque colour behind el's box, from el itself upwards
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  }
  function hex(c) { return '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join(''); }
  function selector(el) {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      if (e.id && !/^(queue-first|alias-\d+|mapping-\d+)$/.test(e.id)) { parts.unshift('#' + e.id); break; }
      let part = e.tagName.toLowerCase();
      if (part === 'input' && e.type) part += `[type=${e.type}]`;
      part += [...e.classList].filter(c => c !== 'current').slice(0, 2).map(c => '.' + c).join('');
      const parent = e.parentElement;
      if (parent && e.tagName !== 'TR') {
        const same = [...parent.children].filter(c => c.tagName === e.tagName);
        if (same.length > 1) part += `:nth-of-type(${same.indexOf(e) + 1})`;
      }
      parts.unshift(part);
      if (['TR', 'TABLE', 'FORM', 'HEADER', 'NAV', 'MAIN'].includes(e.tagName) && parts.length > 1) break;
    }
    return parts.join(' > ');
  }
  function pattern(el) {  // the selector without positions or per-item ids: one line per kind of element
    return selector(el).replace(/:nth-of-type\(\d+\)/g, '').replace(/#([A-Za-z]+)-[\w-]*[_\d][\w-]*/g, '#$1-…');
  }
  function label(el) {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.getAttribute('title') || '').trim();
    return text.replace(/\s+/g, ' ').slice(0, 40);
  }
  function shown(el) {  // rendered: not display:none, visibility:hidden, nor inside a closed <details>
    const options = {visibilityProperty: true, contentVisibilityAuto: true};
    if (el.checkVisibility && !el.checkVisibility(options)) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }
  return {rgba, over, contrast, backgroundFrom, hex, selector, pattern, label, shown};
})();
"""

# Touch targets. Buttons and inputs of type submit/button/checkbox/radio; the text boxes of the
# decision forms (form.decide); <summary> in rows; links in table rows and queue cards. Not
# counted: what is not displayed, and links inside running text (a <p> with text besides them:
# WCAG 2.5.8 exempts inline links in sentences). A checkbox or radio counts with its wrapping
# <label>, when that is larger.
TARGETS_JS = LIB_JS + r"""
(() => {
  const found = new Set();
  const add = (el, kind) => { if (!found.has(el)) { found.add(el); out.push([el, kind]); } };
  const out = [];
  document.querySelectorAll('button, input[type=submit], input[type=button], input[type=reset], input[type=image]')
    .forEach(el => add(el, 'button'));
  document.querySelectorAll('input[type=checkbox], input[type=radio]').forEach(el => add(el, 'checkbox'));
  document.querySelectorAll('form.decide input[type=text]').forEach(el => add(el, 'reason box'));
  document.querySelectorAll('tbody tr summary, tr.item summary, .item summary, .card summary')
    .forEach(el => add(el, 'summary in a row'));
  document.querySelectorAll('table tbody tr a[href], tr.item a[href], .item a[href], .queue-card a[href]')
    .forEach(el => add(el, 'link in a row'));
  const inRunningText = el => {
    const p = el.closest('p');
    if (!p) return false;
    const copy = p.cloneNode(true);
    copy.querySelectorAll('a, button, input, select').forEach(x => x.remove());
    return copy.textContent.trim().length > 0;
  };
  const targets = [];
  for (const [el, kind] of out) {
    if (!lib.shown(el)) continue;
    if (kind === 'link in a row' && inRunningText(el)) continue;
    let r = el.getBoundingClientRect();
    let measured = el;
    if (kind === 'checkbox') {
      const wrap = el.closest('label');
      if (wrap && lib.shown(wrap)) {
        const lr = wrap.getBoundingClientRect();
        if (lr.width * lr.height > r.width * r.height) { r = lr; measured = wrap; }
      }
    }
    targets.push({kind, selector: lib.selector(el), pattern: lib.pattern(el), label: lib.label(measured),
                  w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10});
  }
  return targets;
})()
"""

# Sideways scrolling: the document's scroll width, and the element reaching furthest right.
# Elements inside an ancestor that clips or scrolls sideways do not widen the page: that
# ancestor counts instead.
OVERFLOW_JS = LIB_JS + r"""
(() => {
  const vw = window.innerWidth;
  // The innermost element that reaches furthest right (of those reaching as far, the deepest:
  // the one that pushes its ancestors out, not the ancestors).
  let widest = null, widestEl = null;
  const walk = (el) => {
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.position === 'fixed') return;
    if (el.checkVisibility && !el.checkVisibility({contentVisibilityAuto: true})) return;
    const r = el.getBoundingClientRect();
    const right = r.right + window.scrollX;
    if (r.width > 0 && s.visibility !== 'hidden' && el !== document.body
        && (!widest || right > widest.right + 0.5 || (right >= widest.right - 0.5 && widestEl.contains(el)))) {
      widest = {selector: lib.selector(el), right: Math.round(right * 10) / 10, width: Math.round(r.width)};
      widestEl = el;
    }
    if (['hidden', 'auto', 'scroll', 'clip'].includes(s.overflowX)) return;
    for (const child of el.children) walk(child);
  };
  walk(document.body);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, widest};
})()
"""

# The share of the screen's height (the phone's 844 px, not innerHeight: a mobile browser zooms
# out a page wider than the screen, which would flatter the row).
STICKY_JS = r"""
(screen) => {
  const row = document.querySelector('#sticky-submit, .sticky-submit');
  if (!row) return null;
  const r = row.getBoundingClientRect();
  const position = getComputedStyle(row).position;
  return {selector: row.id ? '#' + row.id : '.' + [...row.classList].join('.'), height: Math.round(r.height * 10) / 10,
          screen, share: r.height / screen, sticky: position === 'sticky' || position === 'fixed'};
}
"""

# Focus rings: the first visible element of each kind is focused (after a key press, so the
# browser shows the keyboard focus style, :focus-visible) and its ring's colour (outline, else
# box-shadow) compared with the background behind it: its parent's for an outline drawn
# outside the box, its own for one drawn inside (negative outline-offset, inset shadow).
FOCUS_JS = LIB_JS + r"""
(() => {
  const kinds = {
    'header link': '#header a[href]',
    'header button': '#header button, #header summary',
    'breadcrumb link': '.breadcrumbs a[href]',
    'content link': '#content a[href]:not(table a)',
    'row link': 'tbody tr a[href]',
    'queue row': 'tr.item[tabindex]',
    'button': '#content button, #content input[type=submit]',
    'approve': 'button.approve',
    'reject': 'button.reject',
    'text input': ['text', 'search', 'password', 'number'].map(t => `#content input[type=${t}]`).join(', ')
      + ', #content textarea',
    'checkbox': '#content input[type=checkbox]',
    'select': '#content select',
    'summary': '#content summary',
  };
  const results = [];
  const before = document.activeElement;
  for (const [kind, sel] of Object.entries(kinds)) {
    const el = [...document.querySelectorAll(sel)].find(e => lib.shown(e) && !e.disabled);
    if (!el) continue;
    const shadowBefore = getComputedStyle(el).boxShadow;
    el.focus({preventScroll: true, focusVisible: true});
    if (document.activeElement !== el) continue;  // not focusable
    const s = getComputedStyle(el);
    const rings = [];
    let inside = false;
    if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 && lib.rgba(s.outlineColor)[3] > 0) {
      rings.push(lib.rgba(s.outlineColor));
      inside = parseFloat(s.outlineOffset) + parseFloat(s.outlineWidth) <= 0;
    } else if (s.boxShadow && s.boxShadow !== 'none' && s.boxShadow !== shadowBefore) {
      // A ring drawn as a shadow: one with a spread (the 4th length), added by the focus.
      for (const shadow of s.boxShadow.split(/,(?![^(]*\))/)) {
        const colour = (shadow.match(/(rgba?\([^)]*\)|color\([^)]*\)|#[0-9a-f]{3,8})/i) || [])[1];
        const lengths = shadow.replace(colour || '', '').match(/-?[\d.]+px/g) || [];
        if (colour && lengths.length >= 4 && parseFloat(lengths[3]) > 0) {
          rings.push(lib.rgba(colour));
          if (/inset/.test(shadow)) inside = true;
        }
      }
    }
    const behind = lib.backgroundFrom(inside ? el : (el.parentElement || el));
    let best = 0, ring = null;
    for (const c of rings.filter(c => c[3] > 0)) {
      const ratio = lib.contrast(lib.over(c, behind), behind);
      if (ratio > best) { best = ratio; ring = lib.hex(lib.over(c, behind)); }
    }
    results.push({kind, selector: lib.selector(el), label: lib.label(el), visible: el.matches(':focus-visible'),
                  ring: ring || 'none', background: lib.hex(behind), contrast: Math.round(best * 100) / 100});
    el.blur();
  }
  if (before && before !== document.body && before.focus) before.focus({preventScroll: true});
  return results;
})()
"""

# Approve and Reject buttons against the page: the page's background (body) and the
# background right behind the button (a row's tint, a toolbar).
BUTTON_CONTRAST_JS = LIB_JS + r"""
(() => {
  const page = lib.backgroundFrom(document.body);
  const out = [];
  const buttons = ['tr.item button.approve', 'tr.item button.reject', '#bulk button.approve', '#bulk button.reject'];
  for (const sel of buttons) {
    const el = [...document.querySelectorAll(sel)].find(e => lib.shown(e));
    if (!el) continue;
    const behind = lib.backgroundFrom(el.parentElement);
    const own = lib.over(lib.rgba(getComputedStyle(el).backgroundColor), behind);
    out.push({selector: sel, button: lib.hex(own), page: lib.hex(page), behind: lib.hex(behind),
              contrast: Math.round(Math.min(lib.contrast(own, page), lib.contrast(own, behind)) * 100) / 100});
  }
  return out;
})()
"""

# The queues' Decide column: each control of each row inside the viewport sideways and not
# clipped by an ancestor that hides or scrolls its overflow.
DECIDE_JS = LIB_JS + r"""
(() => {
  const vw = window.innerWidth;
  const controls = [...document.querySelectorAll(
    'tr.item td.actions :is(button, input:not([type=hidden]), a[href], select, textarea)')];
  const out = [];
  for (const el of controls) {
    const r = el.getBoundingClientRect();
    let why = '';
    if (!lib.shown(el)) why = 'not displayed';
    else if (r.left < -0.5 || r.right > vw + 0.5) {
      why = `outside the viewport (left ${Math.round(r.left)}, right ${Math.round(r.right)}, viewport ${vw})`;
    }
    else {
      for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
        if (['hidden', 'auto', 'scroll', 'clip'].includes(getComputedStyle(a).overflowX)) {
          const ar = a.getBoundingClientRect();
          if (r.left < ar.left - 0.5 || r.right > ar.right + 0.5) {
            const [cl, cr, bl, br] = [r.left, r.right, ar.left, ar.right].map(Math.round);
            why = `clipped by ${lib.selector(a)} (control ${cl}–${cr}, box ${bl}–${br})`;
            break;
          }
        }
      }
    }
    const row = el.closest('tr.item');
    out.push({selector: lib.selector(el), label: lib.label(el), row: row ? row.dataset.id : '', why});
  }
  return {controls: out, scrollWidth: document.documentElement.scrollWidth, innerWidth: vw,
          rows: document.querySelectorAll('tr.item').length};
})()
"""


# ---------------------------------------------------------------------------------------------
# Measures as Python values


def targets(page) -> list[dict]:
    return page.evaluate(TARGETS_JS)


def small_targets(found: list[dict]) -> list[dict]:
    return [t for t in found if t["w"] < MIN_TARGET or t["h"] < MIN_TARGET]


def overflow(page) -> dict:
    return page.evaluate(OVERFLOW_JS)


def sticky(page, screen_height: int = PHONE["height"]) -> dict | None:
    return page.evaluate(STICKY_JS, screen_height)


def focus_rings(page) -> list[dict]:
    page.keyboard.press("Shift")  # keyboard modality: focus() then shows the keyboard focus style
    return page.evaluate(FOCUS_JS)


def button_contrast(page) -> list[dict]:
    return page.evaluate(BUTTON_CONTRAST_JS)


def decide_controls(page) -> dict:
    return page.evaluate(DECIDE_JS)


def tabs_until(page, selector: str, limit: int = 80) -> tuple[int | None, list[str]]:
    """Press Tab until the focused element matches the CSS `selector`; return the number of presses
    (None within `limit`) and what each press focused."""
    page.wait_for_load_state("load")
    stops = []
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        state = page.evaluate(_FOCUSED_JS, selector)
        stops.append(state["label"])
        if state["matches"]:
            return n, stops
    return None, stops


def tabs_to_start_reviewing(page, limit: int = 40) -> tuple[int | None, list[str]]:
    """Tabs from where the page has the focus to "Start reviewing" (#start-reviewing).

    A skip link on the way (an in-page link whose target is or holds Start reviewing) is
    followed with Enter, as a keyboard user would: if that puts the focus on Start reviewing,
    the skip link's Tab counts as reaching it; else the Tabs go on from where it led.
    """
    page.wait_for_load_state("load")
    stops: list[str] = []
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        state = page.evaluate(_FOCUSED_JS, "#start-reviewing")
        stops.append(state["label"])
        if state["matches"]:
            return n, stops
        if state["skip"]:
            page.keyboard.press("Enter")
            page.wait_for_timeout(50)
            after = page.evaluate(_FOCUSED_JS, "#start-reviewing")
            stops.append(f"Enter → {after['label']}")
            if after["matches"]:
                return n, stops
    return None, stops


# What has the focus: a label for it, whether it matches `selector`, and whether it is a skip
# link (an in-page link) to Start reviewing or to a part of the page that holds it.
_FOCUSED_JS = r"""
(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body) return {label: 'body', matches: false, skip: false};
  const text = (el.getAttribute('aria-label') || el.innerText || el.value || '').trim().replace(/\s+/g, ' ');
  const label = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (text ? ` “${text.slice(0, 30)}”` : '');
  const matches = el.matches(selector);
  let skip = false;
  const href = el.getAttribute('href') || '';
  if (!matches && el.tagName === 'A' && href.startsWith('#') && href.length > 1) {
    const target = document.getElementById(decodeURIComponent(href.slice(1)));
    skip = !!target && (target.id === 'start-reviewing' || !!target.querySelector('#start-reviewing'));
  }
  return {label, matches, skip};
}
"""

# The first decision control of a page: the queues' Decide column, Approve / Reject anywhere, the
# SOC coder's one-click refine.
DECISION_CONTROL = (
    "td.actions button, td.actions input[type=text], td.actions a, .suggestion-refine button, "
    "button.approve, button.reject"
)


def contrast_failures(rings: list[dict], where: str) -> list[str]:
    return [
        f"{where}: {r['kind']} {r['selector']} “{r['label']}”: focus ring {r['ring']} on {r['background']} "
        f"= {r['contrast']}:1" + ("" if r["visible"] else " (not :focus-visible)")
        for r in rings
        if r["contrast"] < MIN_CONTRAST
    ]
