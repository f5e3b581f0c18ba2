from django.urls import path

from runner import trial_views, views

app_name = "runner"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("last/", trial_views.last_runs, name="last_runs"),
    path("<uuid:run_id>/", views.run_detail, name="detail"),
    path("<uuid:run_id>/log.txt", views.run_log_download, name="log_download"),
    path("<uuid:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("<uuid:run_id>/retry/", views.run_retry, name="retry"),
    path("<uuid:run_id>/rerun/", views.run_rerun, name="rerun"),
    path("<uuid:run_id>/decide/", views.run_decide, name="decide"),
]
