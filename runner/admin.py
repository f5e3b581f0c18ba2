from django.contrib import admin
from django.http import HttpRequest

from runner.models import LogLine, Run, RunLock, StepEvent

STEP_EVENT_FIELDS = ("step_key", "status", "attempt", "worker", "created_at")


class StepEventInline(admin.TabularInline):
    model = StepEvent
    fields = STEP_EVENT_FIELDS
    readonly_fields = STEP_EVENT_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
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

    def has_change_permission(self, request: HttpRequest, obj: StepEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StepEvent | None = None) -> bool:
        return False


@admin.register(LogLine)
class LogLineAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "level", "step_key", "message"]
    list_filter = ["level"]


@admin.register(RunLock)
class RunLockAdmin(admin.ModelAdmin):
    list_display = ["name", "run", "acquired_at"]
