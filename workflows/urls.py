from django.urls import path

from workflows import views

app_name = "workflows"
urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("<slug:name>/", views.workflow_detail, name="detail"),
    path("<slug:name>/export/", views.workflow_export_download, name="export"),
]
