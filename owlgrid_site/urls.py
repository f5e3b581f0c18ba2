from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from owlgrid_site.api import api
from owlgrid_site.auth import ThrottledLoginView
from runner import trial_views
from runner.hooks import hook
from runner.run_status import run_status
from runner.views import workflow_run_start

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="workflows:list", permanent=False)),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("hooks/runs/<uuid:run_id>/status", run_status, name="run_status"),
    path("hooks/<slug:environment>/<slug:workflow>", hook, name="hook"),
    path("hooks/<slug:environment>/<slug:workflow>/", hook),
    path("workflows/<slug:name>/run/", workflow_run_start, name="workflow_run"),
    # Test runs from the editor: run data belongs to `runner`, which `workflows` never imports.
    path("workflows/<slug:name>/edit/test/", trial_views.test_run, name="workflow_test_run"),
    path("workflows/<slug:name>/edit/test/status/", trial_views.test_status,
         name="workflow_test_status"),
    path("workflows/<slug:name>/runs/", trial_views.workflow_runs, name="workflow_runs"),
    path("workflows/", include("workflows.urls")),
    path("environments/", include("environments.urls")),
    path("runs/", include("runner.urls")),
]
