from django.urls import path

from environments import views

app_name = "environments"
urlpatterns = [
    path("", views.environment_list, name="list"),
    path("security-groups/", views.security_group_list, name="security_groups"),
    path("security-groups/<slug:group>/", views.security_group_detail, name="group"),
    path("security-groups/<slug:group>/delete/", views.security_group_delete,
         name="group_delete"),
    path("promote/<slug:workflow>/", views.workflow_promotion, name="promote"),
    path("<slug:name>/", views.environment_detail, name="detail"),
    path("<slug:name>/move/", views.environment_move, name="move"),
    path("<slug:name>/rename/", views.environment_rename, name="rename"),
    path("<slug:name>/variables/", views.variable_save, name="variable_save"),
    path("<slug:name>/variables/<str:variable>/delete/", views.variable_delete,
         name="variable_delete"),
    path("<slug:name>/connections/", views.connection_save, name="connection_save"),
    path("<slug:name>/connections/<slug:connection>/test/", views.connection_check,
         name="connection_test"),
    path("<slug:name>/connections/<slug:connection>/delete/", views.connection_delete,
         name="connection_delete"),
]
