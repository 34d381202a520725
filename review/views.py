"""The review pages: dashboard, alias and mapping queues, the mapping review page, decisions.

Views parse input and call review.services; the review core checks who may act, once, and a
refusal of permission is a 403 (a curator's decision POST), every other domain error is shown to
the reviewer as it is (409).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from framework.paging import CURSOR_PARAMS, InvalidCursor, KeysetPaginator
from framework.redirects import redirect_next, safe_next
from roles import workflow
from roles.models import (
    LEAD_REVIEW,
    Assignment,
    ClassificationMapping,
    Decision,
    Sample,
    SampleState,
    TitleAlias,
)
from roles.selectors import mapping_disagrees, neighbour_agreement, neighbour_mappings
from taxonomy.models import OccupationCode

from . import services
from .filters import AliasFilter, DecisionFilter, MappingFilter
from .forms import (
    AdjudicateForm,
    ApproveForm,
    BulkAliasForm,
    CodeSearchForm,
    ConfidentForm,
    MappingApproveForm,
    ReasonForm,
    RefineForm,
    ReplaceForm,
    ThresholdForm,
    read_shown,
    sign_shown,
)
from .rendering import QUEUE_WIDGETS
from .selectors import (
    alias_queue,
    assigned_q,
    assignment_summaries,
    backlog_by_status,
    can_review,
    code_relation,
    coder_views,
    content_changes,
    decisions_per_day,
    detailed_codes_under,
    digest_totals,
    disputed_count,
    disputed_samples,
    filter_coder_flag,
    four_eyes_q,
    four_eyes_reason,
    is_group_level,
    is_overdue,
    mapping_queue,
    occupation_ancestors,
    overdue_nodes,
    pending_by_band,
    pending_by_family,
    pending_by_level,
    pending_for,
    pending_reference_elsewhere,
    ranked_codes,
    reference_evidence,
    stored_flags,
    title_mismatch,
    verdicts,
    with_people,
)

VIEW_ALIASES = "roles.view_titlealias"
VIEW_MAPPINGS = "roles.view_classificationmapping"
# Filter parameters a decision form carries back to the queue it came from.
QUEUE_PARAMS = ("status", "family", "level", "role", "source", "band", "confidence_min", "confidence_max",
                "alias_type", "flag", "q", "sort", "depth", "page")


def _active_filters(params: QueryDict) -> int:
    """How many filters the address sets (the queue's status and sort are not filters)."""
    return sum(1 for key, value in params.items() if value and key not in ("status", "sort", "page", "threshold"))


def _queue_data(params: QueryDict, default_status: str) -> QueryDict:
    data = params.copy()
    # An absent status means the work queue; an empty one ("any status") is kept.
    if "status" not in data:
        data["status"] = default_status
    return data


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the POSTed `next` when it is a path on this site, else to `default`."""
    return redirect_next(request, default)


UNDO_SALT = "review.undo"


def undo_token(user: Any, model: type, pks: list[int]) -> str:
    """A signed note of what `user` just decided, so an Undo button can reopen exactly that."""
    return signing.dumps({"m": model._meta.model_name, "ids": sorted(pks)}, salt=f"{UNDO_SALT}:{user.pk}",
                         compress=True)


def _undo_tag(user: Any, model: type, pks: list[int]) -> str:
    return f"undo|{undo_token(user, model, pks)}" if pks else ""


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Rolebook-Fetch") == "1"


# What a reviewer is told when their decision was a blind review in a double-blind sample.
BLIND_OUTCOMES = {
    "drawn": ("Drawn for a second review",
              "Drawn for a second, blind review: your decision is recorded, and the item stays open until another "
              "reviewer agrees (a lead settles a disagreement)."),
    "disputed": ("Sent to a lead",
                 "Your decision differs from the first, blind review: a lead reviewer settles it, and the decision "
                 "log then shows both reviews and the lead's reason."),
}


def _decided(request: HttpRequest, item: Any, text: str, default: str) -> HttpResponse:
    """Answer a decision: JSON for the queue's script, otherwise a message with Undo and a redirect back.

    A blind review in a sample moved nothing: the answer says so, and offers no Undo.
    """
    outcome = getattr(item, "review_outcome", "decided")
    if outcome in BLIND_OUTCOMES:
        label, text = BLIND_OUTCOMES[outcome][0], f"{_subject(item)}: {BLIND_OUTCOMES[outcome][1]}"
        if _wants_json(request):
            return JsonResponse({"ok": True, "message": text, "status": item.status, "status_label": label,
                                 "undo_token": ""})
        messages.success(request, text)
        return _back(request, default)
    if outcome == "agreed":
        text = f"{text} It agrees with the first, blind review: settled."
    token = undo_token(request.user, type(item), [item.pk])
    if _wants_json(request):
        return JsonResponse({"ok": True, "message": text, "status": item.status,
                             "status_label": item.get_status_display(), "undo_token": token})
    messages.success(request, text, extra_tags=f"undo|{token}")
    return _back(request, default)


def _subject(item: Any) -> str:
    return f"“{item.alias}”" if isinstance(item, TitleAlias) else f"Mapping to {item.code}"


def _refused(request: HttpRequest, error: str | Exception, default: str, status: int = 409) -> HttpResponse:
    """Answer a refused decision: 403 for a missing permission (the review core's), otherwise `status`."""
    if isinstance(error, services.ReviewPermissionDenied):
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": str(error)}, status=403)
        raise PermissionDenied(str(error))
    error = str(error)
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": error}, status=status)
    messages.error(request, error)
    return _back(request, default)


def _names(items: list[Any], limit: int = 20) -> str:
    """“A”, “B”, … and N more: what a bulk decision decided, by name."""
    shown = ", ".join(f"“{item}”" for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _neighbours_for(roles: list[Any]) -> dict[int, list[Any]]:
    """How each role's three nearest neighbours are mapped, keyed by role pk.

    Fetched for all `roles` at once (a constant number of queries, see
    roles.selectors.neighbour_mappings); review/_neighbours.html renders the list.
    """
    return neighbour_mappings(roles, k=3)


def _bar_chart(
    rows: list[tuple[str, int]], width: int = 420, bar: int = 18, link: Any = None
) -> dict[str, Any]:
    """Geometry for a server-rendered horizontal SVG bar chart; `link(label)` makes a bar a link."""
    label_w, gap = 150, 4
    top = max((n for _label, n in rows), default=0) or 1
    bars = []
    for i, (label, n) in enumerate(rows):
        bars.append({
            "label": str(label), "value": n, "y": i * (bar + gap),
            "w": round((width - label_w - 50) * n / top, 1), "text_y": i * (bar + gap) + bar - 5,
            "href": link(label) if link else "",
        })
    return {"bars": bars, "width": width, "height": max(len(rows), 1) * (bar + gap),
            "label_w": label_w, "bar": bar, "value_x_pad": label_w + 6}


# ---------------------------------------------------------------------------------------------
# Dashboard and the decision log


@login_required
@permission_required(VIEW_ALIASES, raise_exception=True)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    totals = digest_totals()
    backlog = backlog_by_status(totals)
    per_day = decisions_per_day(7)
    aliases, mappings = reverse("review:aliases"), reverse("review:mappings")
    alias_statuses = {s.label: s.value for s in TitleAlias.Status}
    mapping_statuses = {s.label: s.value for s in ClassificationMapping.Status}
    context = {
        "backlog": backlog,
        "waiting": pending_for(request.user, totals),
        # Every bar opens the queue filtered to what it counts.
        "alias_chart": _bar_chart(
            [(s.label, backlog["aliases"][s.value]) for s in TitleAlias.Status],
            link=lambda label: f"{aliases}?{urlencode({'status': alias_statuses[label]})}",
        ),
        "mapping_chart": _bar_chart(
            [(s.label, backlog["mappings"][s.value]) for s in ClassificationMapping.Status],
            link=lambda label: f"{mappings}?{urlencode({'status': mapping_statuses[label]})}",
        ),
        "family_chart": _bar_chart(
            pending_by_family(), link=lambda label: f"{aliases}?{urlencode({'family': label})}"
        ),
        "level_chart": _bar_chart(
            pending_by_level(), link=lambda label: f"{aliases}?{urlencode({'level': label})}"
        ),
        "band_chart": _bar_chart(
            pending_by_band(totals), link=lambda label: f"{aliases}?{urlencode({'band': label})}"
        ),
        "days_chart": _bar_chart([(d.strftime("%a %d %b"), n) for d, n in per_day]),
        "decided_last_7": sum(n for _d, n in per_day),
        "my_count": Decision.objects.reviews().by(request.user).last_days(7).count(),
        # Pending aliases that an official source files under another code than the role's.
        "reference_elsewhere": pending_reference_elsewhere(totals),
        # What waits under each assignment: the reviewer's own, or every one for a lead.
        # Disputed double-blind samples a lead settles.
        "disputed": disputed_count() if workflow.is_lead(request.user) else None,
        "assignments": assignment_summaries(list(
            (Assignment.objects.all() if workflow.is_lead(request.user)
             else Assignment.objects.for_user(request.user)).with_related()
        )),
    }
    return render(request, "review/dashboard.html", context)


@login_required
@permission_required(VIEW_ALIASES, raise_exception=True)
@require_GET
def decision_log(request: HttpRequest) -> HttpResponse:
    """Decisions, newest first, filtered by who, what kind, when and which role (invalid filters: 400)."""
    # Blind reviews of samples still under review are hidden from all but their reviewer and leads.
    decisions = Decision.objects.visible_to(request.user).with_related()
    mine = request.GET.get("mine") == "1"
    if mine:
        decisions = decisions.by(request.user)
    params = request.GET.copy()
    params.pop("mine", None)
    params.pop("page", None)
    filterset = DecisionFilter(params, queryset=decisions)
    status = 200
    if not filterset.is_valid():
        decisions, status = Decision.objects.none(), 400
    else:
        decisions = filterset.qs
    try:
        page = KeysetPaginator(decisions, ["-created_at", "-pk"], per_page=settings.REVIEW_PAGE_SIZE).page(
            request.GET
        )
    except InvalidCursor as exc:
        return _restart(request, exc)
    return render(request, "review/decision_log.html", {"page": page, "mine": mine, "filterset": filterset},
                  status=status)


def _keyset_page(request: HttpRequest, filterset, kind: str):
    """The queue page the request asks for, counted exactly from the role digests when only the status filters.

    The digests count every item; while another reviewer holds some, or double-blind samples hide
    some from this reviewer (hidden here), the page counts.
    """
    exact = None
    model = TitleAlias if kind == "aliases" else ClassificationMapping
    if filterset.counts_only_status() and not workflow.hides_any(request.user, model):
        status = filterset.form.cleaned_data.get("status") or ""
        prefix = "aliases_" if kind == "aliases" else "mappings_"

        def exact() -> int:
            totals = digest_totals()
            if status:
                return totals[f"{prefix}{status}"]
            return sum(n for name, n in totals.items() if name.startswith(prefix))

    per_page = settings.REVIEW_PAGE_SIZE if kind == "aliases" else settings.REVIEW_MAPPING_PAGE_SIZE
    paginator = KeysetPaginator(filterset.qs, filterset.ordering(), per_page=per_page, exact_count=exact)
    return paginator.page(request.GET)


def _restart(request: HttpRequest, exc: InvalidCursor) -> HttpResponse:
    """A cursor the list did not make: say so and show the first page with the same filters."""
    params = request.GET.copy()
    for name in CURSOR_PARAMS:
        params.pop(name, None)
    messages.error(request, f"The page position in the address (after/before) is {exc}: back to the first page.")
    return redirect(f"{request.path}?{params.urlencode()}")


# ---------------------------------------------------------------------------------------------
# "Review next": batches nobody else holds


def _hold(item: Any, user: Any) -> dict[str, Any] | None:
    """Who holds `item` now ("Review next"), if anyone: {mine, holder, until}."""
    lease = getattr(item, "lease", None)
    if lease is None or lease.expires_at <= timezone.now():
        return None
    return {"mine": lease.holder_id == user.pk, "holder": lease.holder.get_username(), "until": lease.expires_at}


def _queue_params(params: QueryDict) -> list[tuple[str, str]]:
    """The queue's filters and sort, without its page position, holds or status (a batch is of open items)."""
    dropped = {*CURSOR_PARAMS, "page", "held", "status", "csrfmiddlewaretoken", "threshold"}
    return [(key, value) for key, values in params.lists() if key not in dropped for value in values if value]


def _batch_context(request: HttpRequest, model: type, filterset) -> dict[str, Any]:
    cleaned = filterset.form.cleaned_data if filterset.is_valid() else {}
    return {
        "queue_params": _queue_params(request.GET),
        "batch_size": settings.REVIEW_BATCH_SIZE,
        "in_batch": cleaned.get("held") == "mine",
        "is_lead": workflow.is_lead(request.user),
    }


QUEUES = {
    "aliases": (TitleAlias, AliasFilter, alias_queue, "review:aliases", "alias", "aliases"),
    "mappings": (ClassificationMapping, MappingFilter, mapping_queue, "review:mappings", "mapping", "mappings"),
}


@login_required
@require_POST
def review_next(request: HttpRequest, kind: str) -> HttpResponse:
    """Lease the next batch of the queue's filters and sort to the reviewer; show it (held=mine)."""
    model, filter_class, queryset, url_name, one, many = QUEUES[kind]
    data = QueryDict(mutable=True)
    for key, value in _queue_params(request.POST):
        data.appendlist(key, value)
    data["status"] = model.OPEN
    filterset = filter_class(data, queryset=queryset(), request=request)
    back = reverse(url_name)
    if not filterset.is_valid():
        return _refused(request, "The queue's filters are not valid: fix them, then take a batch.", back, status=400)
    try:
        # Items under the reviewer's assignments come first.
        pks = workflow.take_batch(model, filterset.qs, actor=request.user, first=assigned_q(request.user))
    except workflow.ReviewPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    data.pop("status")
    if not pks:
        messages.info(request, f"Nothing left to take: every open {one} for these filters is decided, held by "
                               "another reviewer, or one you wrote (four-eyes).")
        return redirect(f"{back}?{data.urlencode()}")
    until = timezone.localtime(timezone.now() + timedelta(minutes=settings.REVIEW_LEASE_MINUTES))
    count = f"{len(pks)} {one if len(pks) == 1 else many}"
    messages.success(request, f"{count} are yours until {until:%H:%M}: nobody else gets them meanwhile.")
    data["held"] = "mine"
    return redirect(f"{back}?{data.urlencode()}")


@login_required
@require_POST
def release_batch(request: HttpRequest, kind: str) -> HttpResponse:
    """Give the reviewer's batch back to the queue."""
    model, _filter, _queryset, url_name, one, many = QUEUES[kind]
    released = workflow.release(model, actor=request.user)
    messages.info(request, f"Gave back {released} {one if released == 1 else many}.")
    return _back(request, reverse(url_name))


# ---------------------------------------------------------------------------------------------
# Aliases


@login_required
@permission_required(VIEW_ALIASES, raise_exception=True)
@require_GET
def alias_queue_view(request: HttpRequest) -> HttpResponse:
    filterset = AliasFilter(
        _queue_data(request.GET, TitleAlias.Status.PENDING), queryset=alias_queue(), request=request
    )
    filterset.form.renderer = QUEUE_WIDGETS
    page = None
    rows = []
    if filterset.is_valid():
        try:
            page = _keyset_page(request, filterset, "aliases")
        except InvalidCursor as exc:
            return _restart(request, exc)
        items = list(page.object_list)
        with_people(items)
        overdue = overdue_nodes()
        references = reference_evidence(items)
        changes = content_changes(items)
        # The rows' markup: review/templatetags/queue_rows.py.
        rows = [
            {
                "item": a,
                "references": references.get(a.pk, []),
                "flags": stored_flags(a),
                "changes": changes.get(a.pk, []),
                "four_eyes": four_eyes_reason(request.user, a),
                "hold": _hold(a, request.user),
                "overdue": is_overdue(a.role, overdue),
            }
            for a in items
        ]
    return render(request, "review/alias_queue.html", {
        **_batch_context(request, TitleAlias, filterset),
        "filterset": filterset,
        "page": page,
        "rows": rows,
        "can_decide": can_review(request.user, TitleAlias),
        "query": request.GET.urlencode(),
        # Where each decision form returns: this page, as the address has it.
        "next_path": request.get_full_path(),
        # The threshold a reviewer chose stays in the address, and in the box.
        "threshold_form": ThresholdForm(initial={"threshold": _threshold(request.GET.get("threshold"))},
                                        renderer=QUEUE_WIDGETS),
        # What this page shows, signed: the bulk form decides these rows at these versions only.
        "shown": sign_shown(request.user, [(row["item"].pk, row["item"].version) for row in rows]),
    })


# One decision writes in one transaction, the review core's own: with ATOMIC_REQUESTS it would be a
# savepoint inside the request's, two more queries (SAVEPOINT, RELEASE) on the desk's hottest POST.
# The view itself writes nothing outside the core.
@transaction.non_atomic_requests
@login_required
@require_POST
def alias_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve, reject or reopen one alias (`action` comes from the URL pattern).

    The review core reads the alias once, locked: the view does not read it first (a missing
    one is a 404 all the same).
    """
    form = (ApproveForm if action == "approve" else ReasonForm)(request.POST)
    queue = reverse("review:aliases")
    if not form.is_valid():
        alias = get_object_or_404(TitleAlias, pk=pk)
        errors = " ".join(e for field_errors in form.errors.values() for e in field_errors)
        return _refused(request, f"“{alias.alias}”: {errors}", queue, status=400)
    alias = TitleAlias(pk=pk)
    version = form.cleaned_data["version"]
    try:
        if action == "approve":
            done = services.approve_alias(
                alias=alias, actor=request.user, comment=form.cleaned_data["comment"], expected_version=version
            )
        elif action == "reject":
            done = services.reject_alias(
                alias=alias, actor=request.user, reason=form.cleaned_data["reason"], expected_version=version
            )
        else:
            done = services.reopen_alias(alias=alias, actor=request.user, reason=form.cleaned_data["reason"])
    except services.ItemGone:
        raise Http404("No such alias.") from None
    except services.ReviewError as exc:
        return _refused(request, exc, queue)
    past = {"approve": "approved", "reject": "rejected", "reopen": "reopened"}[action]
    return _decided(request, done, f"“{done.alias}” {past}.", queue)


def _threshold(value: str | None) -> Decimal:
    form = ThresholdForm({"threshold": value or ""})
    return form.cleaned_data["threshold"] if form.is_valid() else Decimal("0.80")


def _report(request: HttpRequest, result: services.BulkResult, verb: str, limit: int = 20) -> None:
    """Tell the reviewer what a bulk decision did: the decided items by name (the first `limit`), with
    Undo, and each skipped item with why."""
    text = result.summary(verb)
    if result.decided:
        text += f" {_names(result.decided, limit)}."
        model = type(result.decided[0])
        messages.success(request, text, extra_tags=_undo_tag(request.user, model, [i.pk for i in result.decided]))
    else:
        messages.success(request, text)
    for skip in result.skipped[:limit]:
        messages.warning(request, f"Skipped “{skip.item}”: {skip.reason}")
    if result.skipped_count > limit:
        messages.warning(request, f"… and {result.skipped_count - limit} more skipped.")


@login_required
@require_POST
def alias_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkAliasForm(request.POST, user=request.user)
    if not form.is_valid():
        if not can_review(request.user, TitleAlias):
            # Nothing reached the review core: answer a non-reviewer as it would.
            raise PermissionDenied("Deciding aliases needs the review permission.")
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(request, reverse("review:aliases"))
    chosen = form.cleaned_data["ids"]
    try:
        if form.cleaned_data["action"] == "approve":
            result = services.approve_aliases(aliases=chosen, actor=request.user, versions=form.versions)
            verb = "approved"
        else:
            result = services.reject_aliases(
                aliases=chosen, actor=request.user, reason=form.cleaned_data["reason"], versions=form.versions
            )
            verb = "rejected"
    except services.ReviewPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        _report(request, result, verb)
    return _back(request, reverse("review:aliases"))


@login_required
def alias_threshold(request: HttpRequest) -> HttpResponse:
    """Approve all matching at or above a threshold: GET previews and signs what it shows, POST decides that.

    The confirm decides exactly the aliases the preview listed, at the versions it showed: one
    that changed since is skipped and named, and one that started to match since is left alone.
    """
    if not can_review(request.user, TitleAlias):
        # The preview and its confirm page are for reviewers; the decision itself is checked by the review core.
        raise PermissionDenied("Deciding aliases needs the review permission.")
    params = request.POST if request.method == "POST" else request.GET
    # Only the alias queue's own filters carry over; other parameters (a mapping filter) are ignored.
    filter_params = QueryDict(mutable=True)
    for key in AliasFilter.base_filters:
        if key in params:
            filter_params.setlist(key, params.getlist(key))
    queue_url = f"{reverse('review:aliases')}?{filter_params.urlencode()}"
    filterset = AliasFilter(_queue_data(filter_params, TitleAlias.Status.PENDING), queryset=TitleAlias.objects.all())
    form = ThresholdForm(params)
    if not filterset.is_valid() or not form.is_valid():
        for errors in list(filterset.errors.values()) + list(form.errors.values()):
            messages.error(request, " ".join(errors))
        return redirect(queue_url)
    threshold = form.cleaned_data["threshold"]
    if request.method == "POST" and form.cleaned_data["confirm"]:
        try:
            shown = read_shown(request.user, form.cleaned_data["shown"])
        except signing.BadSignature:
            messages.error(request, "The preview expired or was altered: nothing was approved. Preview again.")
            return redirect(f"{reverse('review:alias-threshold')}?{filter_params.urlencode()}&threshold={threshold}")
        try:
            result = services.approve_aliases(
                aliases=list(shown), actor=request.user, versions=shown,
                comment=form.cleaned_data["comment"] or f"approved at confidence ≥ {threshold}",
            )
        except services.ReviewPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            _report(request, result, f"approved at confidence ≥ {threshold}:")
        back = filter_params.copy()
        back["threshold"] = str(threshold)
        return redirect(f"{reverse('review:aliases')}?{back.urlencode()}")
    matching = filterset.qs.filter(status=TitleAlias.Status.PENDING, confidence__gte=threshold)
    # Four-eyes would skip these anyway: they are left out of what the confirm decides.
    decidable = matching.exclude(four_eyes_q(request.user))
    pairs = list(decidable.values_list("pk", "version"))
    blocked = matching.filter(four_eyes_q(request.user)).count()
    total = len(pairs) + blocked
    # The aliases the confirm will approve, listed a page at a time (the signed list covers all).
    listing = Paginator(decidable.select_related("role").order_by("-confidence", "pk"), settings.REVIEW_PAGE_SIZE)
    return render(request, "review/threshold_confirm.html", {
        "page": listing.get_page(request.GET.get("page")),
        "threshold": threshold, "total": total, "blocked": blocked, "will_decide": len(pairs),
        "filter_params": filter_params, "comment": form.cleaned_data["comment"],
        "shown": sign_shown(request.user, pairs),
        "filter_summary": [
            (filterset.form[k].label, v) for k, v in filter_params.items() if v and k in filterset.form.fields
            and k != "sort"
        ],
    })


CONFIDENT_COMMENT = "the SOC coder is confident and agrees"


@login_required
@require_http_methods(["GET", "POST"])
def mapping_confident(request: HttpRequest) -> HttpResponse:
    """Approve the waiting mappings whose code the SOC coder is confident of: GET previews and signs, POST decides that.

    Confident: the coder's calibrated score for its best code reaches the threshold of 90 %
    top-1 precision (taxonomy.coder), and that code is the mapping's. Never automatic: a
    reviewer sees the list and confirms it, four-eyes applies, and the confirm decides exactly
    the mappings the preview listed, at the versions it showed.
    """
    if not can_review(request.user, ClassificationMapping):
        raise PermissionDenied("Deciding mappings needs the review permission.")
    preview = reverse("review:mapping-confident")
    form = ConfidentForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid() or not form.cleaned_data["confirm"]:
            messages.error(request, "Tick “I confirm” to approve the mappings listed: nothing was approved.")
            return redirect(preview)
        try:
            shown = read_shown(request.user, form.cleaned_data["shown"])
        except signing.BadSignature:
            messages.error(request, "The preview expired or was altered: nothing was approved. Preview again.")
            return redirect(preview)
        try:
            result = services.approve_mappings(
                mappings=list(shown), actor=request.user, versions=shown,
                comment=form.cleaned_data["comment"] or CONFIDENT_COMMENT,
            )
        except services.ReviewPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            _report(request, result, "approved where the coder is confident and agrees:")
        return redirect(f"{reverse('review:mappings')}?flag=coder_confident")
    matching = filter_coder_flag(ClassificationMapping.objects.needs_review(), "coder_confident")
    # Four-eyes would skip these anyway: they are left out of what the confirm decides.
    decidable = matching.exclude(four_eyes_q(request.user))
    pairs = list(decidable.values_list("pk", "version"))
    blocked = matching.filter(four_eyes_q(request.user)).count()
    rows = decidable.select_related("role", "role__suggestions", "occupation").order_by("role__code", "pk")
    listing = Paginator(rows, settings.REVIEW_PAGE_SIZE)
    return render(request, "review/confident_confirm.html", {
        "page": listing.get_page(request.GET.get("page")),
        "will_decide": len(pairs), "blocked": blocked, "shown": sign_shown(request.user, pairs),
        "comment_default": CONFIDENT_COMMENT,
    })


# ---------------------------------------------------------------------------------------------
# Mappings


@login_required
@permission_required(VIEW_MAPPINGS, raise_exception=True)
@require_GET
def mapping_queue_view(request: HttpRequest) -> HttpResponse:
    """The mapping queue: each row's coder reasons, next codes and neighbours fold away, and load when opened.

    The folds are review:mapping-coder and review:mapping-neighbours; without a script, a link
    to the mapping's page, which shows them all.
    """
    filterset = MappingFilter(
        _queue_data(request.GET, ClassificationMapping.Status.NEEDS_REVIEW), queryset=mapping_queue(), request=request
    )
    filterset.form.renderer = QUEUE_WIDGETS
    page, rows = None, []
    next_path = request.get_full_path()
    if filterset.is_valid():
        try:
            page = _keyset_page(request, filterset, "mappings")
        except InvalidCursor as exc:
            return _restart(request, exc)
        items = list(page.object_list)
        with_people(items)
        overdue = overdue_nodes()
        changes = content_changes(items)
        neighbours = _neighbours_for([m.role for m in items])
        coder = coder_views(items, stale_ok=True)
        # The rows' markup: review/templatetags/queue_rows.py.
        rows = [
            {
                "item": m,
                "group_level": is_group_level(m.occupation),
                "mismatch": title_mismatch(m.title, m.occupation.title) if m.occupation else "",
                "changes": changes.get(m.pk, []),
                "four_eyes": four_eyes_reason(request.user, m),
                "neighbours": neighbours.get(m.role_id, []),
                "disagrees": mapping_disagrees(m, neighbours.get(m.role_id, [])),
                "neighbour_counts": neighbour_agreement(m, neighbours.get(m.role_id, [])),
                "coder": coder[m.pk],
                "hold": _hold(m, request.user),
                "overdue": is_overdue(m.role, overdue),
            }
            for m in items
        ]
    return render(request, "review/mapping_queue.html", {
        **_batch_context(request, ClassificationMapping, filterset),
        "filterset": filterset, "page": page, "rows": rows,
        "can_decide": can_review(request.user, ClassificationMapping),
        "query": request.GET.urlencode(),
        "next_path": next_path,
        "filters_active": _active_filters(request.GET),
    })


@login_required
@permission_required(VIEW_MAPPINGS, raise_exception=True)
@require_GET
def mapping_fold(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    """A fold of a mapping queue row, as HTML for the queue's script to put in place when a reviewer opens it.

    `part` (from the URL pattern): "coder", the coder's reasons for its best code and its next
    codes with their refine links; or "neighbours", how the nearest roles are mapped. A form in
    the fold returns to `next` (a local path; the mapping queue otherwise).
    """
    mapping = get_object_or_404(mapping_queue(), pk=pk)
    with_people([mapping])
    context: dict[str, Any] = {
        "mapping": mapping,
        "next_path": safe_next(request, request.GET.get("next"), reverse("review:mappings")),
    }
    if part == "coder":
        context.update(coder=coder_views([mapping])[mapping.pk],
                       can_decide=can_review(request.user, ClassificationMapping))
        return render(request, "review/_coder_more.html", context)
    context["neighbours"] = _neighbours_for([mapping.role]).get(mapping.role_id, [])
    return render(request, "review/_neighbours_list.html", context)


@login_required
@permission_required(VIEW_MAPPINGS, raise_exception=True)
@require_GET
def mapping_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = get_object_or_404(mapping_queue(), pk=pk)
    with_people([mapping])
    chain = occupation_ancestors(mapping.occupation_id) if mapping.occupation_id else []
    query = request.GET.get("q", "")
    candidates = list(detailed_codes_under(mapping.occupation, query)) if mapping.occupation else []
    neighbours = _neighbours_for([mapping.role]).get(mapping.role_id, [])
    coder = coder_views([mapping])[mapping.pk]
    return render(request, "review/mapping_detail.html", {
        # Where a decision here returns: the queue page the reviewer came from (a local path only).
        "back": safe_next(request, request.GET.get("next"), reverse("review:mappings")),
        "coder": coder,
        "mapping": mapping,
        "chain": chain,
        "group_level": is_group_level(mapping.occupation),
        "mismatch": title_mismatch(mapping.title, mapping.occupation.title) if mapping.occupation else "",
        "candidates": candidates,
        "query": query,
        "can_decide": can_review(request.user, mapping),
        "four_eyes": four_eyes_reason(request.user, mapping),
        "changes": content_changes([mapping]).get(mapping.pk, []),
        "decisions": Decision.objects.visible_to(request.user).for_item(mapping).select_related("actor")[:20],
        # A disputed sample waits for a lead; until then the page says so (the core refuses the rest).
        "disputed": mapping.samples.filter(state=SampleState.DISPUTED, item_version=mapping.version).exists(),
        "is_lead": workflow.is_lead(request.user),
        "neighbours": neighbours,
        "disagrees": mapping_disagrees(mapping, neighbours),
        "neighbour_counts": neighbour_agreement(mapping, neighbours),
    })


@transaction.non_atomic_requests  # as alias_decide: the review core's transaction is the request's
@login_required
@require_POST
def mapping_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve, reject, reopen or refine one mapping (`action` comes from the URL pattern)."""
    mapping = get_object_or_404(ClassificationMapping, pk=pk)
    # The mapping's page posts `back` (the queue page it was opened from): a decision returns
    # there, whatever its kind; a refusal returns to the mapping's page, which keeps `back`.
    queue = safe_next(request, request.POST.get("back"), reverse("review:mappings"))
    detail = reverse("review:mapping", args=[mapping.pk])
    if "back" in request.POST:
        detail = f"{detail}?{urlencode({'next': queue})}"
    form_class = {"approve": MappingApproveForm, "refine": RefineForm, "replace": ReplaceForm}.get(action, ReasonForm)
    form = form_class(request.POST)
    if not form.is_valid():
        errors = " ".join(e for field_errors in form.errors.values() for e in field_errors)
        return _refused(request, f"{mapping.code}: {errors}", detail, status=400)
    data = form.cleaned_data
    version = data["version"]
    try:
        if action == "approve":
            done = services.approve_mapping(
                mapping=mapping, actor=request.user, comment=data["comment"],
                confirm_group_level=data["confirm_group_level"], use_official_title=data["use_official_title"],
                expected_version=version,
            )
            text = f"Mapping to {done.code} approved."
        elif action == "refine":
            old = mapping.code
            done = services.refine_mapping(mapping=mapping, actor=request.user, code=data["code"],
                                           comment=data["comment"], expected_version=version)
            text = f"Refined {old} → {done.code} {done.title} and approved."
        elif action == "replace":
            old = mapping.code
            done = services.replace_mapping(
                mapping=mapping, actor=request.user, code=data["code"], reason=data["reason"],
                confirm_wrong_group=data["confirm_wrong_group"], expected_version=version,
            )
            text = f"Replaced {old} → {done.code} {done.title} and approved."
        elif action == "reject":
            done = services.reject_mapping(
                mapping=mapping, actor=request.user, reason=data["reason"], expected_version=version
            )
            text = f"Mapping to {done.code} rejected."
        else:
            done = services.reopen_mapping(mapping=mapping, actor=request.user, reason=data["reason"])
            text = f"Mapping to {done.code} reopened."
    except services.ReviewError as exc:
        return _refused(request, exc, detail)
    return _decided(request, done, text, queue)


@login_required
@permission_required(LEAD_REVIEW, raise_exception=True)
@require_GET
def adjudicate_list(request: HttpRequest) -> HttpResponse:
    """Disputed double-blind samples, oldest first, with both reviews and reasons: a lead settles each."""
    page = Paginator(disputed_samples(), settings.REVIEW_MAPPING_PAGE_SIZE).get_page(request.GET.get("page"))
    samples = list(page.object_list)
    sides = verdicts(samples)
    rows = [{"sample": sample, "item": sample.item, "verdicts": sides[sample.pk],
             "is_mine": request.user.pk in (sample.first_by_id, sample.second_by_id)} for sample in samples]
    return render(request, "review/adjudicate.html", {"page": page, "rows": rows})


@login_required
@require_POST
def adjudicate(request: HttpRequest, pk: int) -> HttpResponse:
    """Settle one disputed sample as a lead (the review core checks the permission, 403 otherwise)."""
    sample = get_object_or_404(Sample.objects.select_related("alias", "mapping"), pk=pk)
    back = reverse("review:adjudicate")
    if not workflow.is_lead(request.user):
        raise PermissionDenied("Only a lead reviewer (roles.lead_review) settles a disputed sample.")
    if sample.state != SampleState.DISPUTED:
        return _refused(request, "This sample is not waiting for a lead any more: reload the page.", back)
    form = AdjudicateForm(request.POST)
    if not form.is_valid():
        errors = " ".join(e for field_errors in form.errors.values() for e in field_errors)
        return _refused(request, errors, back, status=400)
    verdict, code = form.verdict
    try:
        done = services.adjudicate(sample=sample, actor=request.user, verdict=verdict, code=code,
                                   reason=form.cleaned_data["reason"], expected_version=form.cleaned_data["version"])
    except services.ReviewError as exc:
        return _refused(request, exc, back)
    past = {"approve": "approved", "reject": "rejected", "refine": "refined", "replace": "replaced"}[verdict]
    return _decided(request, done, f"{_subject(done)} {past}: the disagreement is settled.", back)


@login_required
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    """Reopen what the user just decided (the message's Undo), with the reason "undo"; no typing.

    The token names the items and is signed for this user; it expires after REVIEW_UNDO_SECONDS.
    """
    default = reverse("review:dashboard")
    try:
        note = signing.loads(request.POST.get("token", ""), salt=f"{UNDO_SALT}:{request.user.pk}",
                             max_age=settings.REVIEW_UNDO_SECONDS)
        model = {"titlealias": TitleAlias, "classificationmapping": ClassificationMapping}[note["m"]]
        pks = [int(pk) for pk in note["ids"]]
    except signing.SignatureExpired:
        return _refused(request, "Too late to undo: reopen the item with a reason instead.", default, status=400)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return _refused(request, "This undo is not yours or was altered: nothing was reopened.", default, status=400)
    try:
        result = services.undo_decisions(model=model, pks=pks, actor=request.user,
                                         window_seconds=settings.REVIEW_UNDO_SECONDS)
    except services.ReviewError as exc:
        return _refused(request, exc, default, status=403)
    if result.decided:
        text = f"Undone: {_names(result.decided)} back to review."
    else:
        text = "Nothing was undone."
    if _wants_json(request):
        return JsonResponse({"ok": bool(result.decided), "message": text,
                             "skipped": [f"{s.item}: {s.reason}" for s in result.skipped]})
    messages.success(request, text)
    for skip in result.skipped[:20]:
        messages.warning(request, f"Not undone “{skip.item}”: {skip.reason}")
    return _back(request, default)


@login_required
@permission_required(VIEW_MAPPINGS, raise_exception=True)
@require_GET
def code_search(request: HttpRequest) -> JsonResponse:
    """The code picker's data: detailed codes for what the reviewer types, ranked by the SOC coder.

    `scope=under` (the default when `under` is given) keeps the codes under the mapping's current
    code (a refinement); `scope=all` offers every detailed code (a replacement). Each result says
    which of the two it would be. Invalid parameters are a 400 with the errors.
    """
    form = CodeSearchForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    data = form.cleaned_data
    under = None
    if data["under"]:
        under = OccupationCode.objects.filter(scheme=ClassificationMapping.reference_scheme(data["under"]),
                                              code=data["under"]).first()
        if under is None:
            return JsonResponse({"errors": {"under": [f"{data['under']} is not an official code."]}}, status=404)
    scope = data["scope"] or ("under" if under is not None else "all")
    results = ranked_codes(data["q"], under=under if scope == "under" else None, limit=50)
    return JsonResponse({"under": under.code if under else "", "scope": scope, "results": [
        {"code": c.code, "title": c.title, "level": c.level, "score": score,
         "relation": code_relation(under, c) if under else "replace"}
        for c, score in results
    ]})


# ---------------------------------------------------------------------------------------------
# Reviewer agreement (double-blind samples)


def _agreement_figures(request: HttpRequest):
    """The figures for a reviewer or a lead; anyone else is refused (403)."""
    # Imported here: roles.agreement is read by these two views only.
    from roles import agreement

    if not agreement.can_view(request.user):
        raise PermissionDenied("The agreement figures are for reviewers and lead reviewers.")
    return agreement, agreement.figures()


@login_required
@require_GET
def agreement_figures(request: HttpRequest) -> HttpResponse:
    """How far reviewers agree on double-blind samples: alpha, kappa per pair, agreement with the outcome."""
    agreement, figures = _agreement_figures(request)
    return render(request, "review/agreement.html", {
        "figures": figures,
        "families": [(code, figures.family_names.get(code, ""), found) for code, found in figures.by_family.items()],
        "item_types": [("Aliases", figures.by_item_type["alias"]), ("Mappings", figures.by_item_type["mapping"])],
        "levels": [(name, figures.mapping_levels[level]) for level, name in
                   (("detailed", "Detailed code"), ("broad", "Broad group"), ("major", "Major group"))],
        "reviewers": list(figures.reviewers.items()),
    })


@login_required
@require_GET
def agreement_csv(request: HttpRequest) -> HttpResponse:
    """The agreement figures as CSV (figure, scope, value, n, note), as a download."""
    agreement, figures = _agreement_figures(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rolebook-agreement.csv"'
    agreement.write_csv(figures, response)
    return response
