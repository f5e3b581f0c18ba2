"""Operations that declare the same parameters share the models that read them
(owlgrid_site/api.py, `share_parameter_models`); the API documents and validates as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from owlgrid_site.api import api, share_parameter_models

BASE = Path(__file__).resolve().parents[2]
UNSHARED_OPENAPI = (
    "import os, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'owlgrid_site.settings'); "
    "import django; django.setup(); "
    "from ninja.signature.details import ViewSignature; "
    "ViewSignature._create_models.shares_models = True; "  # as if already shared: left alone
    "from owlgrid_site.api import api; import owlgrid_site.urls; "
    "print(json.dumps(api.get_openapi_schema(), sort_keys=True, default=str))"
)


def parameter_models() -> list[Any]:
    return [
        model
        for _prefix, router in api._routers
        for path_view in router.path_operations.values()
        for operation in path_view.operations
        for model in operation.models
    ]


def test_operations_with_the_same_parameters_share_their_models() -> None:
    models = parameter_models()
    distinct = {id(model) for model in models}
    assert len(models) >= 50
    assert len(distinct) <= len(models) * 2 // 3
    by_name = [model for model in models if model.__ninja_param_source__ == "path"
               and tuple(model.model_fields) == ("name",)]
    assert len(by_name) >= 10  # a workflow's, an environment's ... operations
    assert len({id(model) for model in by_name}) == 1


def test_the_openapi_document_is_the_one_ninja_builds_without_sharing() -> None:
    import owlgrid_site.urls  # noqa: F401 - declares every operation

    done = subprocess.run([sys.executable, "-c", UNSHARED_OPENAPI], cwd=BASE,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    shared = json.dumps(api.get_openapi_schema(), sort_keys=True, default=str)
    assert shared == done.stdout.strip()


def test_sharing_twice_keeps_one_cache() -> None:
    from ninja.signature.details import ViewSignature

    create = ViewSignature._create_models
    share_parameter_models()
    assert ViewSignature._create_models is create


@pytest.mark.django_db
def test_a_shared_path_model_still_refuses_a_bad_parameter(client: Client,
                                                            django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("ada", password="pw")
    client.force_login(user)
    response = client.get("/api/runs/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"].endswith("run_id")
    assert client.get("/api/runs/8f1d7c5e-0000-4000-8000-000000000000").status_code == 404
