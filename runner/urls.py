from django.urls import path

from runner import views

app_name = "runner"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("<uuid:run_id>/", views.run_detail, name="detail"),
    path("<uuid:run_id>/log.txt", views.run_log_download, name="log_download"),
]
