"""Project-level pages: where a person lands after login, and the site's login itself."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from framework.redirects import is_local_path

REVIEW_PERMISSIONS = ("roles.review_alias", "roles.review_mapping")
CURATOR_PERMISSIONS = ("roles.change_role",)


def landing_url(user) -> str:
    """Where `user`'s work starts: reviewers at the review dashboard, curators in the admin, others at the roles."""
    if not user.is_authenticated:
        return reverse("admin:login")
    if any(user.has_perm(p) for p in REVIEW_PERMISSIONS) and not user.is_superuser:
        return reverse("review:dashboard")
    if user.is_superuser or all(user.has_perm(p) for p in CURATOR_PERMISSIONS):
        return reverse("admin:index")
    return reverse("roles:directory")


def landing(request: HttpRequest) -> HttpResponse:
    """The site's root: send each person to where their work starts."""
    return redirect(landing_url(request.user))


class SiteLoginView(LoginView):
    """The admin's login page, landing each person on their work unless they asked for a page.

    Mounted at the admin's own login address, so both the admin and the site log in here.
    """

    template_name = "admin/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        context.setdefault("title", "Log in")
        context.setdefault("site_name", admin.site.site_header)
        if REDIRECT_FIELD_NAME not in self.request.GET and REDIRECT_FIELD_NAME not in self.request.POST:
            context[REDIRECT_FIELD_NAME] = ""
        return context

    def get_success_url(self) -> str:
        asked = self.request.POST.get(REDIRECT_FIELD_NAME) or self.request.GET.get(REDIRECT_FIELD_NAME) or ""
        # The admin index is what the admin's own links ask for by default: treat it as "no preference".
        if asked != reverse("admin:index") and is_local_path(asked, self.request):
            return asked
        return landing_url(self.request.user)
