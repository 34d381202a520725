"""Role pages for staff: the directory, the card page and its download, compare, and coordinates."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from .adjacency import (
    BANDS,
    ONET_TIER,
    SENIORITY,
    TREE_DEPTH,
    AdjacencyIndex,
    AdjacencySettings,
    Coordinates,
    breakdown,
)
from .filters import RoleFilter
from .models import Role
from .selectors import (
    adjacent_roles,
    can_view_roles,
    compare_roles,
    component_sections,
    role_directory,
    role_for_card,
    role_lookup,
    split_aliases,
    split_mappings,
)

PAGE_SIZE = 50
SEED_ROLE_CODE = "AIMLAM.GEN.P1"


class StaffRoleAccess(LoginRequiredMixin, UserPassesTestMixin):
    """Anonymous users go to the login page; logged-in users without access get 403."""

    def test_func(self) -> bool:
        return can_view_roles(self.request.user)


def _get_role_or_404(code: str) -> Role:
    try:
        return role_for_card(code)
    except Role.DoesNotExist:
        raise Http404(f"No role has the code {code!r}.") from None


def review_links(role: Role) -> dict[str, str]:
    """The role's admin, history and review-queue addresses."""
    query = urlencode({"role": role.code})
    return {
        "admin": reverse("admin:roles_role_change", args=[role.pk]),
        "history": reverse("admin:roles_role_history", args=[role.pk]),
        "review_aliases": f"/review/aliases/?{query}",
        "review_mappings": f"/review/mappings/?{query}",
    }


class RoleDirectoryView(StaffRoleAccess, View):
    """/roles/: search and filters, 50 roles a page, a fixed number of queries."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = RoleFilter(request.GET or None, queryset=role_directory(), request=request)
        status = 200
        if filterset.is_bound and not filterset.is_valid():
            # FilterSet.qs would silently ignore the bad value and list everything.
            roles = Role.objects.none()
            status = 400
        else:
            roles = filterset.qs
        # Two steps: the page's pks (only the tables the filters need), then those roles with
        # everything a row shows. A search matching thousands of roles then joins 50, not all.
        paginator = Paginator(roles.values_list("pk", flat=True), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        pks = list(page.object_list)
        found = role_directory().in_bulk(pks)
        page.object_list = [found[pk] for pk in pks if pk in found]
        params = request.GET.copy()
        params.pop("page", None)
        context = {
            "filterset": filterset,
            "page": page,
            "query_string": params.urlencode(),
            "total": paginator.count,
        }
        return render(request, "roles/directory.html", context, status=status)


class RoleCardView(StaffRoleAccess, View):
    """/roles/<code>/: the role as its published card reads, with links for curators."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        role = _get_role_or_404(code)
        aliases, rejected = split_aliases(role)
        mappings, rejected_mappings = split_mappings(role)
        context = {
            "role": role,
            "level_attributes": [(label, getattr(role.level, name)) for name, label in role.level.ATTRIBUTES],
            "components": component_sections(role),
            "aliases": aliases,
            "rejected_aliases": rejected,
            "mapping_schemes": mappings,
            "rejected_mappings": rejected_mappings,
            "adjacent": adjacent_roles(role),
            "links": review_links(role),
            "compare_url": f"{reverse('roles:compare')}?{urlencode({'a': role.code})}",
            "coordinates_url": f"{reverse('roles:coordinates')}?{urlencode({'role': role.code})}",
        }
        return render(request, "roles/card.html", context)


class RoleCardTextView(StaffRoleAccess, View):
    """/roles/<code>/card.txt: exactly what `manage.py export_card CODE` prints."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        from .cards.renderer import render_card

        role = _get_role_or_404(code)
        response = HttpResponse(render_card(role), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{role.code}.txt"'
        return response


def _code_input() -> forms.TextInput:
    # Offered from the roles as you type (the lookup endpoint fills the page's datalist).
    return forms.TextInput(attrs={"list": "role-codes", "autocomplete": "off", "data-autocomplete": "/roles/lookup/"})


class CompareForm(forms.Form):
    """Two role codes; each must name an existing role."""

    a = forms.CharField(label="Role A", max_length=40, widget=_code_input())
    b = forms.CharField(label="Role B", max_length=40, widget=_code_input())

    def _clean_code(self, name: str) -> Role:
        code = self.cleaned_data[name].strip().upper()
        try:
            return role_for_card(code)
        except Role.DoesNotExist:
            raise forms.ValidationError(f"No role has the code {code!r}.", code="unknown") from None

    def clean_a(self) -> Role:
        return self._clean_code("a")

    def clean_b(self) -> Role:
        return self._clean_code("b")


class CompareView(StaffRoleAccess, View):
    """/roles/compare/?a=CODE&b=CODE: two roles section by section.

    A missing or unknown code is a 400 with the form's error beside the field; with no
    parameters at all the page just shows the empty form.
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.GET:
            return render(request, "roles/compare.html", {"form": CompareForm()})
        form = CompareForm(request.GET)
        if not form.is_valid():
            return render(request, "roles/compare.html", {"form": form}, status=400)
        comparison = compare_roles(form.cleaned_data["a"], form.cleaned_data["b"])
        return render(request, "roles/compare.html", {"form": form, "cmp": comparison})


class LookupForm(forms.Form):
    q = forms.CharField(max_length=100, strip=True)


class RoleLookupView(StaffRoleAccess, View):
    """/roles/lookup/?q=…: up to 20 roles whose code or title holds the text, for autocomplete (JSON)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = LookupForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors}, status=400)
        return JsonResponse({"results": role_lookup(form.cleaned_data["q"])})


class CoordinatesView(StaffRoleAccess, View):
    """/roles/coordinates/: how distance and bands work, worked through on a real role."""

    def get(self, request: HttpRequest) -> HttpResponse:
        conf = AdjacencySettings.from_settings()
        code = (request.GET.get("role") or SEED_ROLE_CODE).strip().upper()
        index = AdjacencyIndex.load()
        role = Role.objects.select_related("level", "node").filter(code=code).first()
        example = None
        if role is not None and role.pk in index.position:
            origin = index.coordinates_of(role.pk)
            rows = []
            for adj in adjacent_roles(role, 5, index=index):
                other = index.coordinates_of(adj.pk)
                terms = breakdown(origin, other, spans=index.spans, conf=conf)
                rows.append({"adjacent": adj, "coords": other, **terms})
            example = {
                "role": role,
                "coords": origin,
                "rows": rows,
                "hypothetical": self._hypothetical(origin, index.spans, conf),
            }
        w_tax, w_level = conf.weights
        context = {
            "conf": conf,
            "w_tax": w_tax,
            "w_level": w_level,
            "tree_depth": TREE_DEPTH,
            "max_edges": 2 * TREE_DEPTH,
            "spans": sorted((t, span) for t, span in index.spans.items() if t != SENIORITY),
            "seniority_span": index.spans.get(SENIORITY, 0),
            "penalty_rest": 1 - conf.track_penalty,
            "offsets": sorted(conf.track_offsets.items()),
            "bands": [
                {"name": name, "tier": ONET_TIER[name], "range": rng}
                for name, rng in zip(
                    BANDS,
                    (
                        f"0 ≤ d < {conf.close_below:g}",
                        f"{conf.close_below:g} ≤ d < {conf.related_below:g}",
                        f"{conf.related_below:g} ≤ d < 1",
                    ),
                    strict=True,
                )
            ],
            "code": code,
            "example": example,
            "role_count": len(index),
        }
        return render(request, "roles/coordinates.html", context)

    @staticmethod
    def _hypothetical(origin: Coordinates, spans: dict[str, int], conf: AdjacencySettings) -> list[dict]:
        """Distances from `origin` to made-up neighbours: one step up the ladder, a sibling, etc."""
        sup, fun, fam, _spec = origin.path
        same_level = origin[1:]
        other_track = "M" if origin.track != "M" else "P"
        cases = []
        if spans.get(origin.track, 0) >= 1:
            up = Coordinates(origin.path, origin.track, origin.rank + 1)
            cases.append(("One level up in the same specialization", up))
        if fam is not None:
            sibling = (sup, fun, fam, f"{fam}.OTHER")
            cases.append(("The same level in a sibling specialization", Coordinates(sibling, *same_level)))
        if fun is not None:
            cousin = (sup, fun, "OTHERFAM", "OTHERFAM.X")
            cases.append(("Same level, another family of its function", Coordinates(cousin, *same_level)))
        if sup is not None:
            far = (sup, "OTHERFN", "OTHERFAM", "OTHERFAM.X")
            cases.append(("The same level in another function", Coordinates(far, *same_level)))
        cases.append((f"The same specialization at {other_track}1", Coordinates(origin.path, other_track, 1)))
        unrelated = ("OTHERSF", "OTHERFN", "OTHERFAM", "OTHERFAM.X")
        cases.append(("The same level, nothing in common in the tree", Coordinates(unrelated, *same_level)))
        return [{"label": label, "coords": c, **breakdown(origin, c, spans=spans, conf=conf)} for label, c in cases]
