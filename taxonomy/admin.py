from django.contrib import admin

from framework.admin import AuditedAdmin, ReadOnlyAdmin
from framework.audit import current_reason

from . import services
from .models import Level, OccupationCode, TaxonomyNode


@admin.register(Level)
class LevelAdmin(AuditedAdmin):
    list_display = ["code", "name", "track", "rank", "typical_experience"]
    list_filter = ["track"]
    search_fields = ["code", "name"]
    ordering = ["track", "rank"]

    def save_with_service(self, request, obj, form, change):
        services.save_level(
            level=obj, actor=request.user, reason=current_reason(), expected_version=form.cleaned_data.get("version")
        )


@admin.register(TaxonomyNode)
class TaxonomyNodeAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "parent", "default_soc"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "default_soc"]
    list_select_related = ["parent", "default_soc"]

    def save_with_service(self, request, obj, form, change):
        services.save_node(
            node=obj, actor=request.user, reason=current_reason(), expected_version=form.cleaned_data.get("version")
        )


@admin.register(OccupationCode)
class OccupationCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "scheme", "level", "parent"]
    list_filter = ["scheme", "level"]
    search_fields = ["code", "title"]
    list_select_related = ["parent"]
    ordering = ["scheme", "code"]
