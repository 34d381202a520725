from django.contrib import admin

from framework.admin import AuditedAdmin, ReadOnlyAdmin

from .models import Level, OccupationCode, TaxonomyNode


@admin.register(Level)
class LevelAdmin(AuditedAdmin):
    list_display = ["code", "name", "track", "rank", "typical_experience"]
    list_filter = ["track"]
    search_fields = ["code", "name"]
    ordering = ["track", "rank"]


@admin.register(TaxonomyNode)
class TaxonomyNodeAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "parent", "default_soc"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "default_soc"]
    list_select_related = ["parent", "default_soc"]


@admin.register(OccupationCode)
class OccupationCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "scheme", "level", "parent"]
    list_filter = ["scheme", "level"]
    search_fields = ["code", "title"]
    list_select_related = ["parent"]
    ordering = ["scheme", "code"]
