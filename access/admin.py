from django.contrib import admin
from django.http import HttpRequest

from access.models import ApiToken, SecurityGroup


@admin.register(SecurityGroup)
class SecurityGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "can_view", "can_edit", "can_run", "can_approve", "is_admin"]
    filter_horizontal = ["members"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["group"]
    readonly_fields = ["prefix", "token_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created through the UI or `manage.py create_token`, shown once
