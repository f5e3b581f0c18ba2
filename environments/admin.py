from django.contrib import admin

from environments.models import (
    ApiToken,
    Connection,
    Deployment,
    Environment,
    PromotionRecord,
    SecurityGroup,
    Variable,
)


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "position"]
    ordering = ["position"]


@admin.register(Variable)
class VariableAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "is_secret", "updated_at"]
    list_filter = ["environment", "is_secret"]
    search_fields = ["name"]
    # Secret values are write-only: the admin never shows the ciphertext or the plaintext.
    exclude = ["encrypted_value"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "kind", "last_test_ok", "last_tested_at"]
    list_filter = ["environment", "kind"]
    exclude = ["encrypted_secrets"]


@admin.register(SecurityGroup)
class SecurityGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "can_view", "can_edit", "can_run", "can_approve", "is_admin"]
    filter_horizontal = ["members", "deploy_environments"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["group"]
    readonly_fields = ["prefix", "token_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are created through the UI or `manage.py create_token`, shown once


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["workflow", "environment", "version", "deployed_by", "deployed_at"]
    list_filter = ["environment"]


@admin.register(PromotionRecord)
class PromotionRecordAdmin(admin.ModelAdmin):
    list_display = ["workflow", "kind", "source", "target", "version", "user", "created_at"]
    list_filter = ["kind", "target"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
