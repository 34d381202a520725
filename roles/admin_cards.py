"""The admin page "Import role cards": upload, preview the changes, then confirm.

The preview writes nothing. The confirm step re-parses and re-plans the uploaded files: they
travel in the form as one signed, compressed payload (filename and bytes of each card), so
what is imported is exactly what was previewed and no client-side plan is trusted.

Two choices go with an import. "Overwrite Rolebook edits" lets the cards' values replace fields
people changed in Rolebook since the card's last import (by default those are kept and listed).
"Import review decisions" turns the review states the cards claim into "imported" decisions; it
is offered only to holders of roles.import_decisions, and the importer checks the permission
again, so a crafted POST from anyone else only imports the items, pending.
"""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from roles import workflow
from roles.cards.importer import CardSource, ImportResult, import_cards
from roles.models import DecisionKind, Role

PAYLOAD_SALT = "roles.admin_cards.import"
PAYLOAD_MAX_AGE = 60 * 60  # seconds a preview stays confirmable
MAX_CARD_BYTES = 1024 * 1024
TEMPLATE = "admin/roles/import_cards.html"


def can_import_cards(user: Any) -> bool:
    """Curators (add and change roles) and superusers may import cards."""
    return bool(user.is_active and (user.is_superuser or user.has_perms(["roles.add_role", "roles.change_role"])))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".txt,text/plain"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class ImportOptionsForm(forms.Form):
    overwrite_edits = forms.BooleanField(
        required=False,
        label="Overwrite Rolebook edits",
        help_text="Take the card's value even where someone changed the field in Rolebook since the last import.",
    )
    import_decisions = forms.BooleanField(
        required=False,
        label="Import review decisions",
        help_text="Record the approvals and rejections the cards carry as decisions in your name "
        "(needs roles.import_decisions).",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not workflow.may_move(user, Role, DecisionKind.IMPORTED):
            del self.fields["import_decisions"]

    def options(self) -> dict[str, bool]:
        data = self.cleaned_data if self.is_valid() else {}
        return {name: bool(data.get(name)) for name in ("overwrite_edits", "import_decisions")}


class UploadForm(ImportOptionsForm):
    cards = MultipleFileField(label="Card files", help_text="One or more published role cards (.txt, UTF-8).")

    def clean_cards(self) -> list:
        files = self.cleaned_data["cards"]
        for upload in files:
            if upload.size > MAX_CARD_BYTES:
                raise forms.ValidationError(f"{upload.name} is larger than {MAX_CARD_BYTES // 1024} KB: not a card.")
        return files


def _pack(sources: list[CardSource]) -> str:
    return signing.dumps(
        [[s.filename, base64.b64encode(s.data).decode("ascii")] for s in sources], salt=PAYLOAD_SALT, compress=True
    )


def _unpack(payload: str) -> list[CardSource]:
    """Return the cards carried by `payload`; raises signing.BadSignature if altered or expired."""
    items = signing.loads(payload, salt=PAYLOAD_SALT, max_age=PAYLOAD_MAX_AGE)
    return [CardSource(filename=name, data=base64.b64decode(data)) for name, data in items]


def _changelist_url(request: HttpRequest) -> str:
    try:
        return reverse("admin:roles_role_changelist")
    except NoReverseMatch:
        return request.path


def import_cards_view(request: HttpRequest, model_admin: Any) -> HttpResponse:
    """Upload card files, preview what importing them changes, and import on confirmation."""
    if not can_import_cards(request.user):
        raise PermissionDenied("Only curators can import role cards.")
    form = UploadForm(user=request.user)
    options_form = ImportOptionsForm(user=request.user)
    result: ImportResult | None = None
    payload = ""
    if request.method == "POST" and "confirm" in request.POST:
        try:
            sources = _unpack(request.POST.get("payload", ""))
        except signing.BadSignature:
            messages.error(request, "The preview expired or was altered: choose the files again.")
            return HttpResponseRedirect(request.path)
        options_form = ImportOptionsForm(request.POST, user=request.user)
        result = import_cards(sources, actor=request.user, **options_form.options())
        if result.ok:
            messages.success(request, result.summary())
            return HttpResponseRedirect(_changelist_url(request))
        # The database changed since the preview (e.g. a node was re-coded): show why.
    elif request.method == "POST":
        form = UploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            sources = [CardSource(filename=f.name, data=f.read()) for f in form.cleaned_data["cards"]]
            options = form.options()
            result = import_cards(sources, actor=request.user, dry_run=True, **options)
            options_form = ImportOptionsForm(initial=options, user=request.user)
            if result.ok:
                payload = _pack(sources)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import role cards",
        "opts": Role._meta,
        "form": form,
        "options_form": options_form,
        "result": result,
        "payload": payload,
        "changelist_url": _changelist_url(request),
    }
    return TemplateResponse(request, TEMPLATE, context)
