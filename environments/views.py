"""Environment and security group pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from environments.models import Environment, SecurityGroup


@login_required
def environment_list(request: HttpRequest) -> HttpResponse:
    environments = Environment.objects.prefetch_related(
        "variables", "connections", "deployments__workflow", "deployments__version"
    )
    return render(request, "environments/list.html", {"environments": environments})


@login_required
def security_group_list(request: HttpRequest) -> HttpResponse:
    groups = SecurityGroup.objects.prefetch_related("members", "deploy_environments", "tokens")
    return render(request, "environments/security_groups.html", {"groups": groups})
