from django.contrib import admin

from environments.models import Connection, Deployment, Environment, PromotionRecord, Variable


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "position"]
    ordering = ["position"]
    filter_horizontal = ["deployer_groups"]


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
