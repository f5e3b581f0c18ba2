from django.contrib import admin

from runner.models import LogLine, Run, RunLock, StepEvent


class StepEventInline(admin.TabularInline):
    model = StepEvent
    fields = ["step_key", "status", "attempt", "worker", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "environment", "status", "trigger_type", "created_at"]
    list_filter = ["status", "trigger_type", "environment"]
    search_fields = ["id", "workflow__name"]
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [StepEventInline]


@admin.register(StepEvent)
class StepEventAdmin(admin.ModelAdmin):
    list_display = ["run", "step_key", "status", "attempt", "created_at"]
    list_filter = ["status"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LogLine)
class LogLineAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "level", "step_key", "message"]
    list_filter = ["level"]


@admin.register(RunLock)
class RunLockAdmin(admin.ModelAdmin):
    list_display = ["name", "run", "acquired_at"]
