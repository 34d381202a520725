"""API tokens in the admin: read-only, with a revoke action; made only by their owners on /api/tokens/."""

from django.contrib import admin, messages

from .models import ApiToken
from .services import TokenError, revoke_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name", "prefix", "user", "scope_read", "scope_releases", "created_at", "last_used_at", "revoked_at",
    )
    list_filter = ("scope_read", "scope_releases", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = list_display
    fields = list_display
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_related()

    def has_add_permission(self, request) -> bool:
        # The secret is shown once to whoever makes the token: only its owner, on /api/tokens/.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Nothing is editable; the change page shows the token and the revoke action lives on the list.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoked tokens stay as the record of what had access and when.
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request, queryset) -> None:
        done = 0
        for token in queryset:
            try:
                revoke_token(token=token, actor=request.user)
                done += 1
            except TokenError as exc:
                self.message_user(request, f"{token}: {exc}", messages.ERROR)
        self.message_user(request, f"Revoked {done} token(s).", messages.SUCCESS)
