"""The notification list, read marks and preferences: each person's own, and nobody else's.

Every change is a POST with the CSRF token; a notification of someone else is a 404, not a
403, so ids cannot be probed. `next` is followed only to a path on this site.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from framework.redirects import redirect_next, safe_next

from . import selectors, services
from .forms import PreferencesForm
from .models import Notification

PAGE_SIZE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page, "title": "Notifications"})


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.mark_read(user=request.user, pk=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    return redirect_next(request, reverse("notifications:list"))


@login_required
@require_POST
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark it read and go to the item it is about."""
    try:
        notification = services.mark_read(user=request.user, pk=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    return HttpResponseRedirect(safe_next(request, notification.url, reverse("notifications:list")))


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return redirect_next(request, reverse("notifications:list"))


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    current = selectors.preferences_for(request.user)
    form = PreferencesForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.save_preferences(user=request.user, values=form.cleaned_data)
        messages.success(request, "Your notification preferences are saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form, "title": "Notification preferences"})
