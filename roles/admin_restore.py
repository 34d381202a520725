"""The admin's "Restore this version" (a mixin of the role, component, alias and mapping admins).

A history row's old content comes back as an ordinary content change through
roles.services.restore_version: a preview, a reason, then review as for any edit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from framework.audit import MissingReason, StaleEdit

from . import services, workflow
from .models import Reviewable


class RestoreVersionAdmin:
    """"Restore this version" from a history row: a preview (current value → the version's, the differing
    content fields only), a reason, then an ordinary content change through roles.services.restore_version.

    Only users who may change the model restore (403 otherwise, on GET too); GET never writes. The
    history page numbers its rows (version 1 is the object's first) and links each to its restore page.
    """

    restore_template = "admin/roles/restore_version.html"

    def get_urls(self):
        opts = self.model._meta
        # Before the defaults: "<path:object_id>/" would otherwise catch it.
        view = self.admin_site.admin_view(self.restore_view)
        restore = path("<str:object_id>/history/<str:history_id>/restore/", view,
                       name=f"{opts.app_label}_{opts.model_name}_restore")
        return [restore, *super().get_urls()]

    def _url(self, view: str, *args: Any) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args, current_app=self.admin_site.name)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # The rows' version numbers (services.version_number), counted in the listing's query itself.
        return super().get_history_queryset(request, history_manager, pk_name, object_id).annotate(
            version_number=Window(RowNumber(), order_by=[F("history_date").asc(), F("history_id").asc()])
        )

    def get_history_list_display(self, request) -> list[str]:
        shown = list(super().get_history_list_display(request))
        return [*shown, "restore"] if self.has_change_permission(request) else shown

    def restore(self, record) -> str:
        """The history page's column: the row's version number and its "Restore this version" link."""
        if record.history_type == "-":
            return format_html("version {}", record.version_number)
        url = self._url("restore", record.id, record.history_id)
        return format_html('version {} · <a href="{}">Restore this version</a>', record.version_number, url)

    def restore_view(self, request: HttpRequest, object_id: str, history_id: str) -> HttpResponse:
        if not (object_id.isdigit() and history_id.isdigit()):
            raise Http404("No such version: the address needs the object's id and the history row's id.")
        if not self.has_change_permission(request):
            raise PermissionDenied
        where = {"model": self.model, "object_id": int(object_id), "history_id": int(history_id)}
        error = ""
        if request.method == "POST":
            version = request.POST.get("version", "")
            try:
                # The version the preview showed: without it, any change since could be overwritten.
                if not version.isdigit():
                    raise services.RestoreRefused("This form has no version: reload the page and restore again.")
                done = services.restore_version(**where, actor=request.user, reason=request.POST.get("reason", ""),
                                                expected_version=int(version))
            except services.VersionNotFound as exc:
                raise Http404(str(exc)) from exc
            except services.ObjectDeleted as exc:
                return self._restore_page(request, None, error=str(exc), status=404)
            except (MissingReason, StaleEdit, services.RestoreRefused, workflow.ReviewError) as exc:
                error = str(exc)
            else:
                fields = ", ".join(change.label for change in done.changes)
                text = f"Restored version {done.number} of {done.item} ({fields})."
                if done.reopened:
                    text += " It went back to review: someone other than you must approve it."
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(self._url("history", done.item.pk))
        try:
            plan = services.restore_preview(**where)
        except services.VersionNotFound as exc:
            raise Http404(str(exc)) from exc
        except services.ObjectDeleted as exc:
            return self._restore_page(request, None, error=str(exc), status=404)
        return self._restore_page(request, plan, error=error, reason=request.POST.get("reason", ""))

    def _restore_page(self, request: HttpRequest, plan, *, error: str = "", reason: str = "",
                      status: int = 200) -> TemplateResponse:
        opts = self.model._meta
        title = (f"Restore version {plan.number} of {plan.item}" if plan is not None
                 else f"Restore a {opts.verbose_name}")
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": opts,
            "plan": plan,
            "error": error,
            "reason": reason,
            "reviewable": issubclass(self.model, Reviewable),
            "history_url": self._url("history", plan.item.pk) if plan is not None else "",
        }
        return TemplateResponse(request, self.restore_template, context, status=status)
