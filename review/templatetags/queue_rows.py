"""The review queues' rows (`{% load queue_rows %}`, `{% alias_rows %}`, `{% mapping_rows %}`).

Written in Python, as contrib.admin writes its change list rows (admin_list.items_for_result): a
queue page is 25 to 50 rows of some 40 values each, which cost the template engine 0.15 to 0.3 ms
a row; written here, a quarter of that. The views give each row its data
(review.views.alias_queue_view, mapping_queue_view); here are its markup and words. Each URL name
is reversed once a page (row_url), and every decision form carries the page's one CSRF token.

Every value is escaped as `{{ value }}` escapes it (`_e`); a row's rarer parts (holds, changes,
decided items) are written as the template filters wrote them (`date`, `time`, `floatformat`).
tests/review/test_queue_render.py checks the rows in each state.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# A value no row has: reversed once per URL name, then replaced by each row's own (see row_url).
URL_MARK = "2147483647"


def row_url(name: str) -> Callable[[object], str]:
    """`reverse(name, args=[value])` for every row of a page from one reverse.

    The pattern takes one argument (a pk or a role code), quoted here as reverse() quotes it.
    """
    head, _mark, tail = reverse(name, args=[URL_MARK]).partition(URL_MARK)
    return lambda value: f"{head}{quote(str(value), safe=RFC3986_SUBDELIMS + '/~:@')}{tail}"


def _e(value: Any) -> str:
    """`{{ value }}` for text: conditional_escape, without its per-call check for lazy strings."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _v(value: Any) -> str:
    """`{{ value }}` for anything: a number or date as the template would localize it, then escaped."""
    return _e(formats.localize(timezone.localtime(value) if hasattr(value, "tzinfo") and value.tzinfo else value))


def _time(value: Any) -> str:
    """`{{ value|time:"H:i" }}`."""
    return _e(formats.time_format(timezone.localtime(value), "H:i"))


def _date(value: Any) -> str:
    """`{{ value|date:"Y-m-d" }}`."""
    return _e(formats.date_format(timezone.localtime(value), "Y-m-d"))


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{value}">'


class _Page:
    """What every row of a page shares: the decision forms' CSRF token and way back, the lead's say."""

    def __init__(self, context: template.Context) -> None:
        self.can_decide = bool(context.get("can_decide"))
        self.is_lead = bool(context.get("is_lead"))
        self.csrf = _hidden("csrfmiddlewaretoken", _e(context.get("csrf_token", "")))
        self.next = _hidden("next", _e(context.get("next_path", "")))

    def held_elsewhere(self, hold: dict[str, Any] | None) -> bool:
        """Another reviewer's batch: a lead may still decide it."""
        return bool(hold and not hold["mine"] and not self.is_lead)


def _flags_held(hold: dict[str, Any] | None, overdue: bool) -> str:
    out = '<span class="flag flag-overdue">past due</span>' if overdue else ""
    if hold:
        who = "yours" if hold["mine"] else f"held by {_e(hold['holder'])}"
        out += f'<span class="flag flag-held">{who} until {_time(hold["until"])}</span>'
    return out


def _holder(hold: dict[str, Any]) -> str:
    return f'<span class="muted">{_e(hold["holder"])} holds it until {_time(hold["until"])}.</span>'


def _decided(item: Any) -> str:
    """When an item was decided, and by whom (empty while it is open)."""
    if not item.decided_at:
        return ""
    by = f" by {_e(item.decided_by.get_username())}" if item.decided_by else ""
    return f'<span class="muted">{_date(item.decided_at)}{by}</span>'


def _row_id(kind: str, first: bool, pk: str) -> str:
    return "queue-first" if first else f"{kind}-{pk}"


# ---------------------------------------------------------------------------------------------
# The alias queue


@register.simple_tag(takes_context=True)
def alias_rows(context: template.Context) -> SafeString:
    """The alias queue's rows (`rows` from review.views.alias_queue_view), or the empty queue's one row."""
    rows = context.get("rows") or []
    if not rows:
        return mark_safe('<tr><td colspan="8" class="muted">Nothing matches: the queue is empty for these '
                         "filters.</td></tr>")
    page = _Page(context)
    urls = {name: row_url(f"review:alias-{name}") for name in ("approve", "reject", "reopen")}
    urls.update(history=row_url("admin:roles_titlealias_history"), card=row_url("roles:card"))
    return mark_safe("\n".join(_alias_row(row, page, urls, first=i == 0) for i, row in enumerate(rows)))


def _alias_row(row: dict[str, Any], page: _Page, urls: dict[str, Callable[[object], str]], *, first: bool) -> str:
    a = row["item"]
    pk, alias, role = str(a.pk), _e(a.alias), a.role
    pending = a.status == a.Status.PENDING
    four_eyes = row["four_eyes"]
    if not pending:
        cannot = f"“{alias}” is already {_e(a.get_status_display().lower())}: reopen it to decide again."
    elif four_eyes:
        cannot = f"Four-eyes: {_e(four_eyes)}; another reviewer must approve “{alias}”."
    else:
        cannot = ""
    cells = [f'<tr class="item" data-id="{pk}" id="{_row_id("alias", first, pk)}"'
             + (f' data-cannot-approve="{cannot}">' if cannot else ">")]
    if page.can_decide:
        cells.append(f'<td class="select"><input type="checkbox" name="ids" value="{pk}" form="bulk" '
                     f'aria-label="Select “{alias}”"></td>')
    main = [f'<a class="alias-text" href="{urls["history"](a.pk)}" title="History of this alias">{alias}</a>',
            _flags_held(row["hold"], row["overdue"])]
    for f in row["flags"]:
        detail = f": {_e(f.detail)}" if f.detail else ""
        main.append(f'<span class="flag flag-{_e(f.code)}" title="{_e(f.detail)}">{_e(f.label)}{detail}</span>')
    if row["references"]:
        main.append('<div class="reference muted">' + "; ".join(
            f"{_e(r.get_source_display())} under <strong>{_e(r.onet_code or r.soc_code)}</strong>"
            for r in row["references"]) + "</div>")
    editor = f" by {_e(a.content_changed_by.get_username())}" if row["changes"] and a.content_changed_by else ""
    for c in row["changes"]:
        main.append(f'<div class="change">changed {_e(c.field)}: <del>{_v(c.old)}</del> → <ins>{_v(c.new)}</ins>'
                    f"{editor}</div>")
    decided = _decided(a)
    cells += [
        f'<td class="main">{"".join(main)}</td>',
        f'<td><a class="role-code" href="{urls["card"](role.code)}">{_e(role.code)}</a><br>'
        f'<span class="muted">{_e(role.title)}</span></td>',
        f'<td class="hide-small hide-medium">{_e(a.get_alias_type_display())}</td>',
        f'<td><span class="band-{_e(a.band)}">{_e(a.band)}</span> {_v(a.confidence)}</td>',
        f'<td class="hide-small hide-medium">{_e(a.source)}</td>',
        f'<td class="row-status"><span class="badge status-{_e(a.status)}">{_e(a.get_status_display())}</span>'
        + (f"<br>{decided}" if decided else "") + "</td>",
    ]
    if page.can_decide:
        cells.append(f'<td class="actions">{_alias_decide(a, row, page, urls, alias, pending)}</td>')
    cells.append("</tr>")
    return "\n".join(cells)


def _alias_decide(a: Any, row: dict[str, Any], page: _Page, urls: dict[str, Callable[[object], str]], alias: str,
                  pending: bool) -> str:
    """The Decide cell: Approve (unless four-eyes forbids), Reject with a reason; Reopen once decided."""
    four_eyes, hold = row["four_eyes"], row["hold"]
    out = f'<div class="four-eyes">Four-eyes: {_e(four_eyes)}.</div>' if four_eyes and pending else ""
    if page.held_elsewhere(hold):
        return out + _holder(hold)
    version = _hidden("version", str(a.version))
    if pending:
        if not four_eyes:
            out += (f'<form method="post" action="{urls["approve"](a.pk)}" class="decide">{page.csrf}{page.next}'
                    f'{version}<button type="submit" class="approve">Approve</button></form>')
        return out + (f'<form method="post" action="{urls["reject"](a.pk)}" class="decide">{page.csrf}{page.next}'
                      f'{version}<input type="text" name="reason" required aria-label="Reason to reject “{alias}”" '
                      'placeholder="reason"><button type="submit" class="reject">Reject</button></form>')
    return out + (f'<form method="post" action="{urls["reopen"](a.pk)}" class="decide">{page.csrf}{page.next}'
                  f'<input type="text" name="reason" required aria-label="Reason to reopen “{alias}”" '
                  'placeholder="reason"><button type="submit" class="quiet reopen">Reopen</button></form>')


# ---------------------------------------------------------------------------------------------
# The mapping queue

# The comment a one-click refine leaves in the decision log.
REFINE_COMMENT = "the SOC coder's suggestion ({})"
CONFIDENT_HELP = "At this score the coder's best code was right at least 9 times in 10 on data it had not seen."
UNSURE_HELP = "The coder's best score is low, or its next code scores nearly as high: look closer."
NEIGHBOURS_DISAGREE = "None of the nearest roles is mapped to this code or a group around it"


@register.simple_tag(takes_context=True)
def mapping_rows(context: template.Context) -> SafeString:
    """The mapping queue's rows (`rows` from review.views.mapping_queue_view), or the empty queue's one row.

    The coder's reasons and next codes, and the neighbours, are folds that load when opened
    (review:mapping-coder, review:mapping-neighbours); without the script, a link to the mapping's
    page, which shows them all.
    """
    rows = context.get("rows") or []
    if not rows:
        return mark_safe('<tr><td colspan="4" class="muted">Nothing matches: the queue is empty for these '
                         "filters.</td></tr>")
    page = _Page(context)
    urls = {name: row_url(f"review:mapping-{name}") for name in ("approve", "reject", "refine", "coder", "neighbours")}
    urls.update(detail=row_url("review:mapping"), card=row_url("roles:card"),
                history=row_url("admin:roles_classificationmapping_history"))
    # The mapping's page and the folds come back to this queue page.
    back = _e(f"?next={quote(str(context.get('next_path', '')), safe='/')}")
    return mark_safe("\n".join(_mapping_row(row, page, urls, back, first=i == 0) for i, row in enumerate(rows)))


def _mapping_row(row: dict[str, Any], page: _Page, urls: dict[str, Callable[[object], str]], back: str, *,
                 first: bool) -> str:
    m = row["item"]
    pk, code, role, occupation = str(m.pk), _e(m.code), m.role, m.occupation
    needs_review = m.status == m.Status.NEEDS_REVIEW
    group_level, four_eyes = row["group_level"], row["four_eyes"]
    level = _e(occupation.get_level_display().lower()) if occupation else ""
    if not needs_review:
        cannot = f"The mapping to {code} is already {_e(m.get_status_display().lower())}: reopen it to decide again."
    elif four_eyes:
        cannot = f"Four-eyes: {_e(four_eyes)}; another reviewer must approve the mapping to {code}."
    elif group_level:
        cannot = f"{code} is a {level}: open it to refine it, or to approve it as group-level."
    elif occupation is None:
        cannot = f"{code} is not an official code: open it to refine or reject it."
    else:
        cannot = ""
    detail = f"{urls['detail'](m.pk)}{back}"
    cells = [
        f'<tr class="item" data-id="{pk}" id="{_row_id("mapping", first, pk)}"'
        + (f' data-cannot-approve="{cannot}">' if cannot else ">"),
        f'<td class="main"><a class="role-code" href="{urls["card"](role.code)}">{_e(role.code)}</a><br>'
        f'<span class="muted">{_e(role.title)}</span></td>',
        f'<td class="mapping">{_mapping_cell(row, m, code, level, detail, urls)}</td>',
        f'<td class="coder">{_coder_cell(row, m, page, urls, back, detail, needs_review)}</td>',
    ]
    if page.can_decide:
        cells.append(f'<td class="actions"><div class="decide-box">'
                     f"{_mapping_decide(row, m, page, urls, code, detail, needs_review)}</div></td>")
    cells.append("</tr>")
    return "\n".join(cells)


def _mapping_cell(row: dict[str, Any], m: Any, code: str, level: str, detail: str,
                  urls: dict[str, Callable[[object], str]]) -> str:
    """The code and its official title, status and history, the flags, what changed."""
    occupation = m.occupation
    out = [f'<a class="mapping-code" href="{detail}">{code}</a>']
    if occupation:
        group = f' <span class="muted">({level})</span>' if row["group_level"] else ""
        out.append(f" {_e(occupation.title)}{group}")
    decided = _decided(m)
    out.append(f'<div class="row-status"><span class="badge status-{_e(m.status)}">{_e(m.get_status_display())}'
               "</span>" + (f" {decided}" if decided else "")
               + f' <a href="{urls["history"](m.pk)}" class="history" aria-label="History of the mapping '
               f'{_e(m.role.code)} → {code}">history</a></div>')
    flags = [_flags_held(row["hold"], row["overdue"])]
    if not occupation:
        flags.append('<span class="flag">not in the reference</span>')
    if row["group_level"]:
        flags.append('<span class="flag flag-group">group-level: refine</span>')
    if m.source == m.Source.SUGGESTED:
        flags.append(f'<span class="flag">suggested {_e(floatformat(m.suggested_score, 2))}</span>')
    if row["mismatch"]:
        flags.append(f'<span class="flag flag-title" title="card: {_e(m.title)}">{_e(row["mismatch"])}</span>')
    if row["coder"].disagrees:
        flags.append(f'<span class="flag flag-coder" title="{_e(row["coder"].disagrees)}">disagrees with the coder'
                     "</span>")
    if row["disagrees"]:
        flags.append(f'<span class="flag flag-disagrees" title="{NEIGHBOURS_DISAGREE}">disagrees with neighbours'
                     "</span>")
    out.append(f'<div class="flags">{"".join(flags)}</div>')
    for c in row["changes"]:
        out.append(f'<div class="change">changed {_e(c.field)}: <del>{_v(c.old)}</del> → <ins>{_v(c.new)}</ins></div>')
    if m.previous_code:
        out.append(f'<div class="change muted">was {_e(m.previous_code)}</div>')
    return "\n".join(out)


def _coder_cell(row: dict[str, Any], m: Any, page: _Page, urls: dict[str, Callable[[object], str]], back: str,
                detail: str, needs_review: bool) -> str:
    """The coder's best code with its one-click refine, then two folds: its reasons and next codes, the neighbours."""
    suggestions = row["coder"].suggestions
    out = []
    if suggestions:
        best, more = suggestions[0], len(suggestions) - 1
        s, relation = best.suggestion, best.relation
        score, best_code = _e(floatformat(s.score, 2)), _e(s.code)
        out.append(f'<span class="coder-best" data-code="{best_code}"><strong>{best_code}</strong> {_e(s.title)} '
                   f'<span class="score" title="the chance the coder gives this code of being right">{score}</span>'
                   "</span>")
        if s.confident:
            agrees = " and agrees" if row["coder"].confident_agrees else ""
            out.append(f'<span class="flag flag-confident" title="{CONFIDENT_HELP}">coder confident{agrees}</span>')
        elif s.unsure:
            out.append(f'<span class="flag flag-unsure" title="{UNSURE_HELP}">coder unsure</span>')
        if page.can_decide and needs_review and relation == "refine":
            out.append(f'<form method="post" action="{urls["refine"](m.pk)}" class="suggestion-refine">{page.csrf}'
                       f'{page.next}{_hidden("version", str(m.version))}{_hidden("code", best_code)}'
                       f'{_hidden("comment", REFINE_COMMENT.format(score))}'
                       f'<button type="submit" class="refine primary">Refine to {best_code}</button></form>')
        elif page.can_decide and needs_review and relation == "replace":
            out.append(f'<a href="{detail}#replace-{best_code}" class="replace">Replace…</a>')
        elif relation == "weak":
            out.append('<span class="muted">(too weak to act on)</span>')
        count = f" · {more} more" if more else ""
        next_codes = f", and its next {more} codes" if more else ""
        out.append(f'<details class="compact coder-more" data-fold="{urls["coder"](m.pk)}{back}">'
                   f"<summary>why{count}</summary>"
                   f'<div class="fold-body"><a href="{detail}#coder">Why the coder ranks {best_code} first'
                   f"{next_codes}: on the mapping's page</a></div></details>")
    else:
        out.append('<span class="muted">no suggestion</span>')
    neighbours = row["neighbours"]
    if neighbours:
        counts = row["neighbour_counts"]
        unmapped = f" · {counts['unmapped']} unmapped" if counts["unmapped"] else ""
        line = (f'<details class="compact neighbours-summary" data-fold="{urls["neighbours"](m.pk)}{back}">'
                f"<summary>{len(neighbours)}: {counts['agree']} agree · {counts['differ']} differ{unmapped}</summary>"
                f'<div class="fold-body"><a href="{detail}">How the nearest roles are mapped: on the mapping\'s page'
                "</a></div></details>")
    else:
        line = '<span class="muted">no neighbours</span>'
    out.append(f'<div class="neighbours-line"><span class="muted">Neighbours:</span> {line}</div>')
    return "\n".join(out)


def _mapping_decide(row: dict[str, Any], m: Any, page: _Page, urls: dict[str, Callable[[object], str]], code: str,
                    detail: str, needs_review: bool) -> str:
    """The Decide cell: Approve (or Refine… for a group or an unofficial code), Reject; Review… once decided."""
    four_eyes, hold = row["four_eyes"], row["hold"]
    out = f'<div class="four-eyes">Four-eyes: {_e(four_eyes)}.</div>' if four_eyes and needs_review else ""
    if page.held_elsewhere(hold):
        return out + _holder(hold)
    if not needs_review:
        return out + f'<a href="{detail}" class="button quiet">Review…</a>'
    version = _hidden("version", str(m.version))
    if row["group_level"] or not m.occupation:
        out += f'<a href="{detail}" class="button primary refine">Refine…</a>'
    elif not four_eyes:
        out += (f'<form method="post" action="{urls["approve"](m.pk)}" class="decide">{page.csrf}{page.next}{version}'
                '<button type="submit" class="approve">Approve</button></form>')
    return out + (f'<form method="post" action="{urls["reject"](m.pk)}" class="decide reject-form">{page.csrf}'
                  f'{page.next}{version}<input type="text" name="reason" required aria-label="Reason to reject the '
                  f'mapping to {code}" placeholder="reason"><button type="submit" class="reject">Reject</button>'
                  "</form>")
