"""The personal token page (/api/tokens/): each user makes, sees and revokes their own tokens.

A new token's secret is shown once, in the answer to the POST that made it, and never again:
only its SHA-256 is stored. It is not put in a message or the session, where it would outlive the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .forms import TokenForm
from .models import ApiToken
from .problems import describe
from .selectors import anonymous_scopes
from .services import TokenError, create_token, revoke_token


def _page(request: HttpRequest, form: TokenForm, *, secret: str = "", created: ApiToken | None = None,
          status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "tokens": ApiToken.objects.owned_by(request.user).order_by("-created_at", "-pk"),
        "secret": secret,
        "created": created,
        "anonymous_scopes": sorted(anonymous_scopes()),
    }
    return render(request, "api/tokens.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; on POST make one and show its secret this once."""
    if request.method == "GET":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        token, secret = create_token(
            user=request.user, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
    except TokenError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    return _page(request, TokenForm(), secret=secret, created=token)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's own tokens (someone else's is a 404, not a 403: no probing)."""
    token = get_object_or_404(ApiToken.objects.owned_by(request.user), pk=pk)
    try:
        revoke_token(token=token, actor=request.user)
    except TokenError as exc:  # pragma: no cover - the owner may always revoke
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Revoked “{token.name}” ({token.prefix}…): it stops working now.")
    return redirect("api-tokens")


@require_GET
def problem_type(request: HttpRequest, slug: str) -> HttpResponse:
    """Explain one problem type of the API's error bodies (the `type` of a problem points here)."""
    found = describe(slug)
    if found is None:
        raise Http404(f"No problem type {slug!r}.")
    title, explanation = found
    return HttpResponse(f"{title}\n\n{explanation}\n", content_type="text/plain; charset=utf-8")
