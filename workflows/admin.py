from django.contrib import admin
from django.http import HttpRequest

from workflows.models import Action, Collection, Record, Trigger, Workflow, WorkflowVersion

VERSION_FIELDS = ("number", "status", "note", "author", "published_at")


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    fields = VERSION_FIELDS
    readonly_fields = VERSION_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "concurrency_limit", "updated_at"]
    list_filter = ["active"]
    search_fields = ["name", "description"]
    filter_horizontal = ["perimeters"]
    inlines = [VersionInline]


class TriggerInline(admin.TabularInline):
    model = Trigger
    extra = 0


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "status", "author", "published_at"]
    list_filter = ["status"]
    search_fields = ["workflow__name", "note"]
    inlines = [TriggerInline]

    def has_change_permission(
        self, request: HttpRequest, obj: WorkflowVersion | None = None
    ) -> bool:
        return obj is None or not obj.is_published

    def has_delete_permission(
        self, request: HttpRequest, obj: WorkflowVersion | None = None
    ) -> bool:
        return obj is None or not obj.is_published


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "version", "parent", "slot", "position"]
    list_filter = ["type"]
    search_fields = ["name", "version__workflow__name"]


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "version", "access", "access_group"]
    list_filter = ["type", "access"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "created_at"]
    list_filter = ["environment"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["id", "collection", "key", "updated_at"]
    list_filter = ["collection"]
    search_fields = ["key"]
