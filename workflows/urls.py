from django.urls import path

from workflows import editor_views as edit
from workflows import views

app_name = "workflows"
urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new/", views.workflow_create, name="create"),
    path("import/", views.workflow_import_page, name="import"),
    path("<slug:name>/", views.workflow_detail, name="detail"),
    path("<slug:name>/token/", views.hook_token, name="hook_token"),
    path("<slug:name>/export/", views.workflow_export_download, name="export"),
    path("<slug:name>/duplicate/", views.workflow_duplicate, name="duplicate"),
    path("<slug:name>/delete/", views.workflow_delete, name="delete"),
    path("<slug:name>/active/", views.workflow_set_active, name="set_active"),
    path("<slug:name>/history/", views.workflow_history, name="history"),
    path("<slug:name>/diff/", views.workflow_diff, name="diff"),
    path("<slug:name>/edit/", edit.edit, name="edit"),
    path("<slug:name>/edit/actions/add/", edit.action_add, name="edit_action_add"),
    path("<slug:name>/edit/actions/<uuid:action_id>/", edit.action_edit, name="edit_action"),
    path("<slug:name>/edit/actions/<uuid:action_id>/move/", edit.action_move,
         name="edit_action_move"),
    path("<slug:name>/edit/actions/<uuid:action_id>/delete/", edit.action_delete,
         name="edit_action_delete"),
    path("<slug:name>/edit/actions/<uuid:action_id>/duplicate/", edit.action_duplicate,
         name="edit_action_duplicate"),
    path("<slug:name>/edit/check/", edit.expression_check, name="edit_check"),
    path("<slug:name>/edit/triggers/add/", edit.trigger_add, name="edit_trigger_add"),
    path("<slug:name>/edit/triggers/<uuid:trigger_id>/", edit.trigger_edit,
         name="edit_trigger"),
    path("<slug:name>/edit/triggers/<uuid:trigger_id>/delete/", edit.trigger_delete,
         name="edit_trigger_delete"),
    path("<slug:name>/edit/settings/", edit.settings_edit, name="edit_settings"),
    path("<slug:name>/edit/publish/", edit.version_publish, name="publish"),
    path("<slug:name>/edit/restore/", edit.version_restore, name="restore"),
]
